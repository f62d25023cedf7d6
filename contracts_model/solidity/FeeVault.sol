// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IFeeVault} from "./Interfaces.sol";

/// @title FeeVault: prepaid sync fees per user, in ETH.
/// @notice Anyone prepays for a user; only the oracle contract spends, always to the fee collector;
///         a user takes back its unused balance. The vault's ETH equals the sum of its balances.
contract FeeVault is IFeeVault {
    error ZeroAddress();
    error ZeroValue();
    error NotOracle();
    error InsufficientBalance();
    error FeeTransferFailed();
    error WithdrawTransferFailed();

    address public immutable oracle;
    address payable public immutable feeCollector;

    mapping(address => uint256) private _balanceOf;
    uint256 private _locked = 1;

    modifier nonReentrant() {
        require(_locked == 1, "reentrant");
        _locked = 2;
        _;
        _locked = 1;
    }

    constructor(address oracle_, address payable feeCollector_) {
        if (oracle_ == address(0) || feeCollector_ == address(0)) revert ZeroAddress();
        oracle = oracle_;
        feeCollector = feeCollector_;
    }

    function depositETH(address user) external payable nonReentrant {
        if (user == address(0)) revert ZeroAddress();
        if (msg.value == 0) revert ZeroValue();
        _balanceOf[user] += msg.value;
        emit Deposited(user, msg.value);
    }

    function balanceOf(address user) external view returns (uint256) {
        return _balanceOf[user];
    }

    function spendFrom(address user, uint256 amount) external nonReentrant {
        if (msg.sender != oracle) revert NotOracle();
        if (amount == 0) revert ZeroValue();
        uint256 held = _balanceOf[user];
        if (held < amount) revert InsufficientBalance();
        _balanceOf[user] = held - amount;
        (bool ok,) = feeCollector.call{value: amount}("");
        if (!ok) revert FeeTransferFailed();
        emit Spent(user, amount, msg.sender);
    }

    function withdrawUnused() external nonReentrant {
        uint256 held = _balanceOf[msg.sender];
        if (held == 0) revert InsufficientBalance();
        _balanceOf[msg.sender] = 0;
        (bool ok,) = payable(msg.sender).call{value: held}("");
        if (!ok) revert WithdrawTransferFailed();
        emit Withdrawn(msg.sender, held);
    }

    receive() external payable {
        revert("DIRECT_ETH_REJECTED");
    }

    fallback() external payable {
        revert("DIRECT_CALL_REJECTED");
    }
}
