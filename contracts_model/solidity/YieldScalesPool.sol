// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRBTCSynth} from "./Interfaces.sol";

/// @title YieldScalesPool: virtual yield positions for Bitcoin holders and traders. Holds no funds.
/// @notice Rate in basis points: min(maxRate, baseRate * rbtcScale * usdtScale / 10000), where the
///         USDT scale is 100 and the rBTC scale is totalSupply * 100 / peakSupply, refreshed whenever
///         the pool is touched. Yield accrues through a global index of rate x seconds: a rate change
///         applies from that moment on, and every participant is checkpointed (accrued at its tier,
///         then its tier re-evaluated) before anything changes its base.
contract YieldScalesPool {
    struct Participant {
        uint8 participantType; // 0 = Bitcoin holder, 1 = trader
        uint256 virtualUSDTDeposited;
        uint256 rbtcContributed;
        uint256 yieldEarned; // accrued up to the last checkpoint
        uint256 yieldClaimed;
        uint256 joinedAt;
        uint256 lastActivityAt;
        uint8 loyaltyTier; // 0 = Bronze, 1 = Silver, 2 = Gold
    }

    struct ScalesBalance {
        uint256 usdtScale;
        uint256 rbtcScale;
        uint256 lastUpdated;
    }

    struct YieldMetrics {
        uint256 baseYieldRate;
        uint256 currentYieldRate;
        uint256 totalYieldDistributed;
        uint256 peakRBTCSupply;
    }

    struct YieldParameters {
        uint256 baseRate;
        uint256 maxRate;
        uint256 silverAfter;
        uint256 goldAfter;
        uint256 bronzeMultiplier;
        uint256 silverMultiplier;
        uint256 goldMultiplier;
    }

    uint8 private constant TYPE_BITCOIN_HOLDER = 0;
    uint8 private constant TYPE_TRADER = 1;
    uint256 private constant USDT_SCALE = 100;
    uint256 private constant ACCRUAL_DIVISOR = 10_000 * 31_536_000 * 100;

    IRBTCSynth public immutable rbtcSynth;
    address public immutable feeVault;
    address public immutable oracle;

    mapping(address => Participant) public participants;
    mapping(address => uint256) public participantIndex;
    mapping(address => bool) public disputedBalances;
    ScalesBalance public scalesBalance;
    YieldMetrics public yieldMetrics;
    YieldParameters public yieldParameters;
    uint256 public totalVirtualUSDT;
    uint256 public totalParticipants;
    /// Sum over time of rate (bps) x seconds, brought up to date at indexUpdatedAt.
    uint256 public yieldIndex;
    uint256 public indexUpdatedAt;

    event ParticipantJoined(address indexed user, uint8 participantType, uint256 amount);
    event ParticipantLeft(address indexed user, uint8 participantType, uint256 amount);
    event YieldCalculated(uint256 totalUSDTVirtual, uint256 totalRBTCSupply, uint256 currentYieldRate);
    event YieldClaimed(address indexed user, uint256 amount);
    event ScalesBalanceUpdated(uint256 usdtScale, uint256 rbtcScale, uint256 timestamp);
    event EmergencyBurnTriggered(address indexed user, uint256 burnedAmount, string reason);
    event BalanceDisputed(address indexed user, uint256 reportedBalance, uint256 oracleBalance);
    event DisputeResolved(address indexed user, bool accepted);
    event ContributionUpdated(address indexed user, uint256 oldAmount, uint256 newAmount);
    event YieldParametersSet(
        uint256 baseRate,
        uint256 maxRate,
        uint256 silverAfter,
        uint256 goldAfter,
        uint256 bronzeMultiplier,
        uint256 silverMultiplier,
        uint256 goldMultiplier
    );

    error NotOracle();
    error InvalidParticipant();
    error InsufficientBalance();
    error AlreadyParticipant();
    error NotParticipant();
    error InvalidAmount();
    error DisputeAlreadyFiled();
    error NothingToClaim();
    error NoDispute();
    error PoolActive();

    modifier onlyOracle() {
        if (msg.sender != oracle) revert NotOracle();
        _;
    }

    modifier onlyParticipant(address user) {
        if (participants[user].joinedAt == 0) revert NotParticipant();
        _;
    }

    constructor(address rbtcSynth_, address feeVault_, address oracle_) {
        require(rbtcSynth_ != address(0), "Invalid rBTC address");
        require(feeVault_ != address(0), "Invalid FeeVault address");
        require(oracle_ != address(0), "Invalid oracle address");
        rbtcSynth = IRBTCSynth(rbtcSynth_);
        feeVault = feeVault_;
        oracle = oracle_;
        scalesBalance = ScalesBalance(USDT_SCALE, 0, block.timestamp);
        yieldParameters = YieldParameters(500, 2000, 180 days, 365 days, 110, 125, 150);
        yieldMetrics = YieldMetrics(500, 0, 0, 1);
        indexUpdatedAt = block.timestamp;
    }

    // ----------------------------------------------------------------- configuration

    /// Sets the yield parameters; only before the first participant joins.
    function configureYield(
        uint256 baseRate,
        uint256 maxRate,
        uint256 silverAfter,
        uint256 goldAfter,
        uint256 bronzeMultiplier,
        uint256 silverMultiplier,
        uint256 goldMultiplier
    ) external onlyOracle {
        if (totalParticipants != 0) revert PoolActive();
        if (silverAfter > goldAfter) revert InvalidAmount();
        _accrueIndex();
        yieldParameters =
            YieldParameters(baseRate, maxRate, silverAfter, goldAfter, bronzeMultiplier, silverMultiplier, goldMultiplier);
        yieldMetrics.baseYieldRate = baseRate;
        _refreshScales();
        emit YieldParametersSet(
            baseRate, maxRate, silverAfter, goldAfter, bronzeMultiplier, silverMultiplier, goldMultiplier
        );
    }

    // ----------------------------------------------------------------- participants (oracle)

    function joinAsBitcoinHolder(address user) external onlyOracle {
        if (participants[user].joinedAt != 0) revert AlreadyParticipant();
        uint256 held = rbtcSynth.balanceOf(user);
        if (held == 0) revert InsufficientBalance();
        _accrueIndex();
        participants[user] = Participant(TYPE_BITCOIN_HOLDER, 0, held, 0, 0, block.timestamp, block.timestamp, 0);
        participantIndex[user] = yieldIndex;
        totalParticipants += 1;
        _refreshScales();
        emit ParticipantJoined(user, TYPE_BITCOIN_HOLDER, held);
    }

    function joinAsTrader(address user, uint256 virtualUSDT) external onlyOracle {
        if (virtualUSDT == 0) revert InvalidAmount();
        _accrueIndex();
        Participant storage p = participants[user];
        if (p.joinedAt == 0) {
            participants[user] =
                Participant(TYPE_TRADER, virtualUSDT, 0, 0, 0, block.timestamp, block.timestamp, 0);
            participantIndex[user] = yieldIndex;
            totalParticipants += 1;
        } else {
            if (p.participantType != TYPE_TRADER) revert InvalidParticipant();
            _checkpoint(user);
            p.virtualUSDTDeposited += virtualUSDT;
            p.lastActivityAt = block.timestamp;
        }
        totalVirtualUSDT += virtualUSDT;
        _refreshScales();
        emit ParticipantJoined(user, TYPE_TRADER, virtualUSDT);
    }

    function updateRBTCContribution(address user, uint256 newRBTCBalance)
        external
        onlyOracle
        onlyParticipant(user)
    {
        Participant storage p = participants[user];
        if (p.participantType != TYPE_BITCOIN_HOLDER) revert InvalidParticipant();
        _accrueIndex();
        _checkpoint(user);
        uint256 old = p.rbtcContributed;
        p.rbtcContributed = newRBTCBalance;
        p.lastActivityAt = block.timestamp;
        _refreshScales();
        emit ContributionUpdated(user, old, newRBTCBalance);
    }

    function emergencyBurn(address user, uint256 burnedAmount) external onlyOracle onlyParticipant(user) {
        _accrueIndex();
        _checkpoint(user);
        Participant storage p = participants[user];
        if (p.participantType == TYPE_BITCOIN_HOLDER) {
            p.rbtcContributed = 0;
        }
        p.lastActivityAt = block.timestamp;
        _refreshScales();
        emit EmergencyBurnTriggered(user, burnedAmount, "Insufficient fees");
    }

    function resolveDispute(address user, bool accepted) external onlyOracle {
        if (!disputedBalances[user]) revert NoDispute();
        disputedBalances[user] = false;
        emit DisputeResolved(user, accepted);
    }

    // ----------------------------------------------------------------- participants (self)

    function claimYield() external onlyParticipant(msg.sender) {
        _accrueIndex();
        _checkpoint(msg.sender);
        Participant storage p = participants[msg.sender];
        uint256 amount = p.yieldEarned - p.yieldClaimed;
        if (amount == 0) revert NothingToClaim();
        p.yieldClaimed += amount;
        p.lastActivityAt = block.timestamp;
        yieldMetrics.totalYieldDistributed += amount;
        _refreshScales();
        emit YieldClaimed(msg.sender, amount);
    }

    function disputeBalance(uint256 reportedBalance, uint256 oracleBalance) external onlyParticipant(msg.sender) {
        if (disputedBalances[msg.sender]) revert DisputeAlreadyFiled();
        disputedBalances[msg.sender] = true;
        emit BalanceDisputed(msg.sender, reportedBalance, oracleBalance);
    }

    // ----------------------------------------------------------------- views

    function calculateYieldRate() public view returns (uint256) {
        return _rate(scalesBalance.rbtcScale);
    }

    function calculateYieldOwed(address user) external view onlyParticipant(user) returns (uint256) {
        Participant storage p = participants[user];
        uint256 index = yieldIndex + yieldMetrics.currentYieldRate * (block.timestamp - indexUpdatedAt);
        return p.yieldEarned + _accrued(p, index - participantIndex[user]) - p.yieldClaimed;
    }

    function getScaleBalance() external view returns (uint256 usdtScale, uint256 rbtcScale, uint256 timestamp) {
        return (scalesBalance.usdtScale, scalesBalance.rbtcScale, scalesBalance.lastUpdated);
    }

    function getParticipant(address user) external view returns (Participant memory) {
        return participants[user];
    }

    function getSystemStats()
        external
        view
        returns (
            uint256 totalParticipantsCount,
            uint256 totalVirtualUSDTDeposits,
            uint256 currentYieldRate,
            uint256 totalYieldDistributedAmount,
            uint256 usdtScale,
            uint256 rbtcScale
        )
    {
        return (
            totalParticipants,
            totalVirtualUSDT,
            yieldMetrics.currentYieldRate,
            yieldMetrics.totalYieldDistributed,
            scalesBalance.usdtScale,
            scalesBalance.rbtcScale
        );
    }

    function isDisputed(address user) external view returns (bool) {
        return disputedBalances[user];
    }

    // ----------------------------------------------------------------- internals

    function _rate(uint256 rbtcScale) private view returns (uint256) {
        uint256 rate = (yieldParameters.baseRate * rbtcScale * USDT_SCALE) / 10_000;
        return rate > yieldParameters.maxRate ? yieldParameters.maxRate : rate;
    }

    function _accrued(Participant storage p, uint256 indexDelta) private view returns (uint256) {
        uint256 base = p.participantType == TYPE_TRADER ? p.virtualUSDTDeposited : p.rbtcContributed;
        return (base * indexDelta * _multiplier(p.loyaltyTier)) / ACCRUAL_DIVISOR;
    }

    function _multiplier(uint8 tier) private view returns (uint256) {
        if (tier == 2) return yieldParameters.goldMultiplier;
        if (tier == 1) return yieldParameters.silverMultiplier;
        return yieldParameters.bronzeMultiplier;
    }

    /// Brings the global index up to now at the rate that held since its last update.
    function _accrueIndex() private {
        yieldIndex += yieldMetrics.currentYieldRate * (block.timestamp - indexUpdatedAt);
        indexUpdatedAt = block.timestamp;
    }

    /// Accrues what the participant earned since its last checkpoint at its tier, then re-evaluates the tier.
    /// The global index must be current.
    function _checkpoint(address user) private {
        Participant storage p = participants[user];
        p.yieldEarned += _accrued(p, yieldIndex - participantIndex[user]);
        participantIndex[user] = yieldIndex;
        uint256 age = block.timestamp - p.joinedAt;
        p.loyaltyTier = age >= yieldParameters.goldAfter ? 2 : (age >= yieldParameters.silverAfter ? 1 : 0);
    }

    /// Re-reads the rBTC supply, tracks its peak and sets the rate that applies from now on.
    function _refreshScales() private {
        uint256 supply = rbtcSynth.totalSupply();
        if (supply > yieldMetrics.peakRBTCSupply) {
            yieldMetrics.peakRBTCSupply = supply;
        }
        uint256 rbtcScale = (supply * 100) / yieldMetrics.peakRBTCSupply;
        scalesBalance.rbtcScale = rbtcScale;
        scalesBalance.lastUpdated = block.timestamp;
        yieldMetrics.currentYieldRate = _rate(rbtcScale);
        emit ScalesBalanceUpdated(USDT_SCALE, rbtcScale, block.timestamp);
        emit YieldCalculated(totalVirtualUSDT, supply, yieldMetrics.currentYieldRate);
    }
}
