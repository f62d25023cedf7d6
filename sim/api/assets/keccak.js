/* Keccak-256 (the Ethereum variant: Keccak padding 0x01, not SHA3's 0x06), and the proof-of-reserves
 * checks built on it: PROTOCOL.md's packed leaf and the sorted-pair Merkle walk (OpenZeppelin's
 * MerkleProof). Plain JavaScript, 64-bit lanes as BigInt; a hash of a few hundred bytes takes well
 * under a millisecond, which is all a user's proof needs. Exposes window.RbtcKeccak (and
 * module.exports under Node, where the test suite checks it against Python's keccak). */
(function (root) {
  "use strict";
  const MASK = (1n << 64n) - 1n;
  const RC = [
    0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n,
    0x000000000000808bn, 0x0000000080000001n, 0x8000000080008081n, 0x8000000000008009n,
    0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
    0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n,
    0x8000000000008002n, 0x8000000000000080n, 0x000000000000800an, 0x800000008000000an,
    0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n];
  // rotation offsets r[x][y]; the state is lane A[x + 5y]
  const ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56],
               [27, 20, 39, 8, 14]];
  const RATE = 136; // bytes: 1600 - 2 * 256 bits

  function rotl(v, n) {
    if (n === 0) return v;
    const s = BigInt(n);
    return ((v << s) | (v >> (64n - s))) & MASK;
  }

  function permute(A) {
    const C = new Array(5), B = new Array(25);
    for (let round = 0; round < 24; round++) {
      for (let x = 0; x < 5; x++) C[x] = A[x] ^ A[x + 5] ^ A[x + 10] ^ A[x + 15] ^ A[x + 20];
      for (let x = 0; x < 5; x++) {
        const D = C[(x + 4) % 5] ^ rotl(C[(x + 1) % 5], 1);
        for (let y = 0; y < 5; y++) A[x + 5 * y] ^= D;
      }
      for (let x = 0; x < 5; x++) {
        for (let y = 0; y < 5; y++) B[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(A[x + 5 * y], ROT[x][y]);
      }
      for (let x = 0; x < 5; x++) {
        for (let y = 0; y < 5; y++) {
          A[x + 5 * y] = B[x + 5 * y] ^ ((~B[(x + 1) % 5 + 5 * y] & MASK) & B[(x + 2) % 5 + 5 * y]);
        }
      }
      A[0] ^= RC[round];
    }
  }

  /** keccak256(bytes: Uint8Array) -> Uint8Array(32) */
  function keccak256(bytes) {
    const padded = new Uint8Array(Math.floor(bytes.length / RATE) * RATE + RATE);
    padded.set(bytes);
    padded[bytes.length] ^= 0x01;
    padded[padded.length - 1] ^= 0x80;
    const A = new Array(25).fill(0n);
    for (let offset = 0; offset < padded.length; offset += RATE) {
      for (let i = 0; i < RATE / 8; i++) {
        let lane = 0n;
        for (let b = 7; b >= 0; b--) lane = (lane << 8n) | BigInt(padded[offset + 8 * i + b]);
        A[i] ^= lane;
      }
      permute(A);
    }
    const out = new Uint8Array(32);
    for (let i = 0; i < 4; i++) {
      let lane = A[i];
      for (let b = 0; b < 8; b++) { out[8 * i + b] = Number(lane & 0xffn); lane >>= 8n; }
    }
    return out;
  }

  function fromHex(text, size) {
    if (typeof text !== "string") throw new Error("expected a hex string, got " + typeof text);
    const hex = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error("not hex: " + text);
    if (size !== undefined && hex.length !== 2 * size) throw new Error("expected " + size + " bytes: " + text);
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function toHex(bytes) {
    let s = "0x";
    for (const b of bytes) s += b.toString(16).padStart(2, "0");
    return s;
  }

  function uint(value, size, what) {
    let v;
    try { v = BigInt(value); } catch (e) { throw new Error(what + " is not an integer: " + value); }
    if (typeof value === "number" && !Number.isSafeInteger(value)) throw new Error(what + " is not exact: " + value);
    if (v < 0n || v >= (1n << BigInt(8 * size))) throw new Error(what + " out of range for uint" + 8 * size);
    const out = new Uint8Array(size);
    for (let i = size - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
    return out;
  }

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  /** PROTOCOL.md: keccak256(eth bytes20 ‖ btcProgram bytes32 ‖ checksum bytes32 ‖ method uint8 ‖
   *  balance_sats uint64 ‖ height uint32 ‖ timestamp uint64), integers big-endian. */
  function leafHash(leaf) {
    return keccak256(concat([fromHex(leaf.eth, 20), fromHex(leaf.btc_program, 32), fromHex(leaf.checksum, 32),
      uint(leaf.method, 1, "method"), uint(leaf.balance_sats, 8, "balance_sats"), uint(leaf.height, 4, "height"),
      uint(leaf.timestamp, 8, "timestamp")]));
  }

  function compare(a, b) {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return 0;
  }

  /** The root a proof leads to: hash each pair smaller-first, as OpenZeppelin's processProof. */
  function processProof(leaf, proof) {
    let node = leaf;
    for (const sibling of proof) {
      node = compare(node, sibling) < 0 ? keccak256(concat([node, sibling])) : keccak256(concat([sibling, node]));
    }
    return node;
  }

  /** Check every leaf of a proof document (the shape `rbtc-sim proof` prints) against a root the
   *  caller trusts; the document's own root is never used. -> [{leafHash, valid, reason}] */
  function verifyDocument(doc, trustedRoot) {
    const root = fromHex(trustedRoot, 32);
    if (!doc || !Array.isArray(doc.leaves) || doc.leaves.length === 0) {
      return [{leafHash: null, valid: false, reason: "the document has no leaves"}];
    }
    return doc.leaves.map((entry) => {
      let computed;
      try {
        computed = leafHash(entry.leaf);
        const proof = (entry.proof || []).map((p) => fromHex(p, 32));
        if (entry.leaf_hash !== undefined && toHex(fromHex(entry.leaf_hash, 32)) !== toHex(computed)) {
          return {leafHash: toHex(computed), valid: false, reason: "the leaf's fields do not hash to its leaf_hash"};
        }
        const reached = processProof(computed, proof);
        if (compare(reached, root) !== 0) {
          return {leafHash: toHex(computed), valid: false, reason: "the proof leads to " + toHex(reached) +
            ", not the published root"};
        }
        return {leafHash: toHex(computed), valid: true, reason: "included in the published root " + toHex(root)};
      } catch (e) {
        return {leafHash: computed ? toHex(computed) : null, valid: false, reason: "malformed leaf: " + e.message};
      }
    });
  }

  const api = {keccak256, fromHex, toHex, leafHash, processProof, verifyDocument};
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.RbtcKeccak = api;
})(typeof window !== "undefined" ? window : this);
