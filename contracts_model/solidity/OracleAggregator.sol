// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRBTCSynth, IFeeVault, IFeePolicy} from "./Interfaces.sol";

/// @title OracleAggregator: applies the committee's confirmed BTC balances to rBTC-SYNTH.
/// @notice sync(user, newBalanceSats): delta = new - lastSats[user]; the fee is quoted and capped; a
///         user who cannot pay a decrease is emergency-burned to zero; a user who cannot pay an
///         increase gets NeedsTopUp and nothing changes; otherwise |delta| is minted or burned and
///         the fee is spent from the user's vault balance.
contract OracleAggregator {
    IRBTCSynth public immutable synth;
    IFeeVault public immutable feeVault;
    IFeePolicy public immutable feePolicy;
    address public immutable committee;
    uint256 public immutable minConfirmations;
    uint256 public immutable maxFeePerSyncWei;

    mapping(address => uint64) public lastSats;
    mapping(address => bool) public emergencyBurnExecuted;
    uint256 public totalEmergencyBurns;

    uint256 private _locked = 1;

    event Synced(
        address indexed user, uint64 newBalanceSats, int64 deltaSats, uint256 feeWei, uint32 height, uint64 timestamp
    );
    event NeedsTopUp(address indexed user);
    event EmergencyBurn(address indexed user, uint256 burnedAmount, string reason);

    error Restricted();
    error FeeCapExceeded();
    error ZeroAddress();
    error ZeroValue();
    error BalanceOutOfRange();

    modifier onlyCommittee() {
        if (msg.sender != committee) revert Restricted();
        _;
    }

    modifier nonReentrant() {
        require(_locked == 1, "reentrant");
        _locked = 2;
        _;
        _locked = 1;
    }

    constructor(
        address synth_,
        address feeVault_,
        address feePolicy_,
        address committee_,
        uint256 minConfirmations_,
        uint256 maxFeePerSyncWei_
    ) {
        if (synth_ == address(0) || feeVault_ == address(0) || feePolicy_ == address(0) || committee_ == address(0)) {
            revert ZeroAddress();
        }
        synth = IRBTCSynth(synth_);
        feeVault = IFeeVault(feeVault_);
        feePolicy = IFeePolicy(feePolicy_);
        committee = committee_;
        minConfirmations = minConfirmations_;
        maxFeePerSyncWei = maxFeePerSyncWei_;
    }

    function sync(address user, uint64 newBalanceSats, bytes calldata) external onlyCommittee nonReentrant {
        if (user == address(0)) revert ZeroAddress();
        if (newBalanceSats > uint64(type(int64).max)) revert BalanceOutOfRange();
        uint64 previous = lastSats[user];
        int64 delta = int64(newBalanceSats) - int64(previous);
        if (delta == 0) return;

        uint256 feeWei = feePolicy.quoteFees(user, delta);
        if (feeWei > maxFeePerSyncWei) revert FeeCapExceeded();

        if (feeVault.balanceOf(user) < feeWei) {
            if (delta < 0) {
                _emergencyBurn(user, previous);
            } else {
                emit NeedsTopUp(user);
            }
            return;
        }

        lastSats[user] = newBalanceSats;
        if (delta > 0) {
            synth.oracleMint(user, uint64(delta));
        } else {
            synth.oracleBurn(user, uint64(-delta));
        }
        if (feeWei > 0) {
            feeVault.spendFrom(user, feeWei);
        }
        emit Synced(user, newBalanceSats, delta, feeWei, uint32(block.number), uint64(block.timestamp));
    }

    function executeEmergencyBurn(address user) external onlyCommittee nonReentrant {
        uint64 recorded = lastSats[user];
        if (recorded > 0) {
            _emergencyBurn(user, recorded);
        }
    }

    function resetEmergencyBurnStatus(address user) external onlyCommittee {
        emergencyBurnExecuted[user] = false;
    }

    function registerAndPrepay(address user, uint8, bytes32) external payable onlyCommittee nonReentrant {
        if (user == address(0)) revert ZeroAddress();
        if (msg.value == 0) revert ZeroValue();
        feeVault.depositETH{value: msg.value}(user);
    }

    /// Burns the user's whole recorded balance; charges nothing.
    function _emergencyBurn(address user, uint64 amount) private {
        lastSats[user] = 0;
        synth.oracleBurn(user, amount);
        emergencyBurnExecuted[user] = true;
        totalEmergencyBurns += 1;
        emit EmergencyBurn(user, amount, "Insufficient fees");
        emit Synced(user, 0, -int64(amount), 0, uint32(block.number), uint64(block.timestamp));
    }
}
