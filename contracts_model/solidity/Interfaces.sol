// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// Interfaces the ReserveBTC contracts use to call each other. Signatures follow the deployed system.

interface IFeePolicy {
    function quoteFees(address user, int64 deltaSats) external view returns (uint256 feeWei);
}

interface IFeeVault {
    event Deposited(address indexed user, uint256 amount);
    event Spent(address indexed user, uint256 amount, address indexed by);
    event Withdrawn(address indexed user, uint256 amount);

    function depositETH(address user) external payable;
    function balanceOf(address user) external view returns (uint256);
    function spendFrom(address user, uint256 amount) external;
    function withdrawUnused() external;
}

interface IRBTCSynth {
    function oracleMint(address user, uint64 deltaSats) external;
    function oracleBurn(address user, uint64 deltaSats) external;
    function balanceOf(address user) external view returns (uint256);
    function totalSupply() external view returns (uint256);
}
