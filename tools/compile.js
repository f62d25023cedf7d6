#!/usr/bin/env node
// Compiles contracts_model/solidity/*.sol with the pinned solcjs (package.json) and writes one
// artifact per deployable contract to contracts_model/artifacts/<Contract>.json.
//   node tools/compile.js           rebuild the artifacts
//   node tools/compile.js --check   exit 1 if the committed artifacts differ from a fresh build
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const solc = require('solc');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'contracts_model', 'solidity');
const OUT = path.join(ROOT, 'contracts_model', 'artifacts');
const CONTRACTS = ['FeePolicy', 'RBTCSynth', 'FeeVault', 'OracleAggregator', 'YieldScalesPool', 'ProofOfReserves'];
const SETTINGS = {
  optimizer: { enabled: true, runs: 1000000 },
  viaIR: true,
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

// The same digest sim/protocol/artifacts.py computes: sha256 over "name\0content\0" of the sorted files.
function sourceHash(files) {
  const h = crypto.createHash('sha256');
  for (const name of Object.keys(files).sort()) {
    h.update(name + '\0' + files[name] + '\0');
  }
  return h.digest('hex');
}

function build() {
  const files = {};
  for (const name of fs.readdirSync(SRC).filter((f) => f.endsWith('.sol')).sort()) {
    files[name] = fs.readFileSync(path.join(SRC, name), 'utf8');
  }
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, { content: v }])),
    settings: SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + '\n');
  if (errors.length) throw new Error(`solc reported ${errors.length} error(s)`);
  const digest = sourceHash(files);
  const artifacts = {};
  for (const name of CONTRACTS) {
    const file = `${name}.sol`;
    const c = output.contracts[file] && output.contracts[file][name];
    if (!c) throw new Error(`solc produced no contract ${name} in ${file}`);
    artifacts[name] = {
      contractName: name,
      sourceFile: file,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      compiler: { name: 'solcjs', version: solc.version(), settings: { optimizer: SETTINGS.optimizer, viaIR: SETTINGS.viaIR, evmVersion: SETTINGS.evmVersion } },
      sourceHash: digest,
    };
  }
  return artifacts;
}

function render(artifact) {
  return JSON.stringify(artifact, null, 2) + '\n';
}

function main() {
  const check = process.argv.includes('--check');
  const artifacts = build();
  let stale = [];
  for (const [name, artifact] of Object.entries(artifacts)) {
    const target = path.join(OUT, `${name}.json`);
    if (check) {
      const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
      if (current !== render(artifact)) stale.push(path.relative(ROOT, target));
    } else {
      fs.mkdirSync(OUT, { recursive: true });
      fs.writeFileSync(target, render(artifact));
    }
  }
  if (check && stale.length) {
    process.stderr.write(`artifacts out of date with contracts_model/solidity (run make contracts): ${stale.join(', ')}\n`);
    process.exit(1);
  }
  process.stdout.write(`${check ? 'checked' : 'wrote'} ${Object.keys(artifacts).length} artifacts with solc ${solc.version()}\n`);
}

main();
