// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IFeePolicy} from "./Interfaces.sol";

/// @title FeePolicy: the fee for one sync.
/// @notice fee = fixedWei, plus delta * weiPerSat * pctBps / 10000 (floor) when delta > 0.
///         A decrease never pays the percentage leg.
contract FeePolicy is IFeePolicy {
    uint256 public immutable pctBps;
    uint256 public immutable fixedWei;
    uint256 public immutable weiPerSat;

    constructor(uint256 pctBps_, uint256 fixedWei_, uint256 weiPerSat_) {
        pctBps = pctBps_;
        fixedWei = fixedWei_;
        weiPerSat = weiPerSat_;
    }

    function quoteFees(address, int64 deltaSats) external view returns (uint256 feeWei) {
        if (deltaSats > 0) {
            feeWei = (uint256(uint64(deltaSats)) * weiPerSat * pctBps) / 10_000;
        }
        feeWei += fixedWei;
    }
}
