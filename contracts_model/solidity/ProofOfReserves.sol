// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ProofOfReserves: the committee publishes Merkle roots of the users' confirmed BTC.
/// @notice Leaf: keccak256(abi.encodePacked(eth, btcProgram, checksum, method, balanceSats, height,
///         timestamp)); tree: sorted-pair keccak256 (OpenZeppelin MerkleProof compatible). Anyone can
///         check a leaf's inclusion against a published root.
contract ProofOfReserves {
    struct Publication {
        bytes32 root;
        uint32 height;
        uint64 totalSats;
        uint64 timestamp;
    }

    address public immutable committee;
    Publication[] private _publications;

    event ReservesPublished(uint256 indexed round, bytes32 root, uint32 height, uint64 totalSats, uint64 timestamp);

    error Restricted();
    error NoPublication();

    constructor(address committee_) {
        require(committee_ != address(0), "committee=0");
        committee = committee_;
    }

    function publishRoot(bytes32 root, uint32 height, uint64 totalSats) external returns (uint256 round) {
        if (msg.sender != committee) revert Restricted();
        round = _publications.length;
        _publications.push(Publication(root, height, totalSats, uint64(block.timestamp)));
        emit ReservesPublished(round, root, height, totalSats, uint64(block.timestamp));
    }

    function rounds() external view returns (uint256) {
        return _publications.length;
    }

    function publication(uint256 round)
        external
        view
        returns (bytes32 root, uint32 height, uint64 totalSats, uint64 timestamp)
    {
        if (round >= _publications.length) revert NoPublication();
        Publication storage p = _publications[round];
        return (p.root, p.height, p.totalSats, p.timestamp);
    }

    function latest() external view returns (bytes32 root, uint32 height, uint64 totalSats, uint64 timestamp) {
        if (_publications.length == 0) revert NoPublication();
        Publication storage p = _publications[_publications.length - 1];
        return (p.root, p.height, p.totalSats, p.timestamp);
    }

    function leafHash(
        address eth,
        bytes32 btcProgram,
        bytes32 checksum,
        uint8 method,
        uint64 balanceSats,
        uint32 height,
        uint64 timestamp
    ) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(eth, btcProgram, checksum, method, balanceSats, height, timestamp));
    }

    function processProof(bytes32 leaf, bytes32[] calldata proof) public pure returns (bytes32 node) {
        node = leaf;
        for (uint256 i = 0; i < proof.length; i++) {
            bytes32 sibling = proof[i];
            node = node < sibling
                ? keccak256(abi.encodePacked(node, sibling))
                : keccak256(abi.encodePacked(sibling, node));
        }
    }

    function verify(bytes32 root, bytes32 leaf, bytes32[] calldata proof) external pure returns (bool) {
        return processProof(leaf, proof) == root;
    }

    function verifyInRound(uint256 round, bytes32 leaf, bytes32[] calldata proof) external view returns (bool) {
        if (round >= _publications.length) revert NoPublication();
        return processProof(leaf, proof) == _publications[round].root;
    }
}
