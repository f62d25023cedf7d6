// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRBTCSynth} from "./Interfaces.sol";

/// @title rBTC-SYNTH: a soulbound mirror of confirmed BTC, 1 token unit = 1 sat.
/// @notice Only the oracle contract mints and burns; nothing ever moves between holders.
contract RBTCSynth is IRBTCSynth {
    string public constant name = "Reserve BTC Synth";
    string public constant symbol = "rBTC-SYNTH";
    uint8 public constant decimals = 8;

    address public immutable oracle;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    error Restricted();
    error Soulbound();
    error BurnExceeds();

    event Transfer(address indexed from, address indexed to, uint256 amount);
    event Approval(address indexed owner, address indexed spender, uint256 amount);

    constructor(address oracle_) {
        require(oracle_ != address(0), "oracle=0");
        oracle = oracle_;
    }

    modifier onlyOracle() {
        if (msg.sender != oracle) revert Restricted();
        _;
    }

    function oracleMint(address user, uint64 deltaSats) external onlyOracle {
        if (deltaSats == 0) return;
        balanceOf[user] += deltaSats;
        totalSupply += deltaSats;
        emit Transfer(address(0), user, deltaSats);
    }

    function oracleBurn(address user, uint64 deltaSats) external onlyOracle {
        if (deltaSats == 0) return;
        uint256 held = balanceOf[user];
        if (held < deltaSats) revert BurnExceeds();
        balanceOf[user] = held - deltaSats;
        totalSupply -= deltaSats;
        emit Transfer(user, address(0), deltaSats);
    }

    function transfer(address, uint256) external pure returns (bool) {
        revert Soulbound();
    }

    function transferFrom(address, address, uint256) external pure returns (bool) {
        revert Soulbound();
    }

    function approve(address, uint256) external pure returns (bool) {
        revert Soulbound();
    }

    function allowance(address, address) external pure returns (uint256) {
        return 0;
    }
}
