#!/usr/bin/env node
// Compiles the protocol's Solidity with the pinned solcjs (package.json) into one artifact per contract.
// The contract list, source files and compiler settings come from contracts_model/protocol.json.
//   node tools/compile.js                      rebuild contracts_model/artifacts from contracts_model/solidity
//   node tools/compile.js --check              exit 1 if the committed artifacts differ from a fresh build
//   node tools/compile.js --src DIR --out DIR  compile another source tree (e.g. a mutant) into DIR
//   node tools/compile.js --only A,B           only these contracts (and only their sources are compiled)
//   node tools/compile.js --changed            only the contracts whose recorded source hash is stale
// Each artifact records sha256 over "name\0content\0" of the files its contract is compiled from (its
// own source and what it imports, sorted by name), the same digest sim/protocol/artifacts.py computes,
// so editing one contract's source leaves the other artifacts untouched.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const solc = require('solc');

const ROOT = path.resolve(__dirname, '..');
const SPEC = JSON.parse(fs.readFileSync(path.join(ROOT, 'contracts_model', 'protocol.json'), 'utf8'));
const SETTINGS = SPEC.compiler.settings;
const IMPORT = /^\s*import\s+[^;]*?["']\.\/([^"']+\.sol)["']/gm;

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

// The .sol files `contract` is compiled from: its own source and, transitively, what it imports.
function sourceFiles(src, contract) {
  const found = new Set();
  const pending = [contract.source];
  while (pending.length) {
    const name = pending.pop();
    if (found.has(name)) continue;
    found.add(name);
    const text = fs.readFileSync(path.join(src, name), 'utf8');
    for (const m of text.matchAll(IMPORT)) pending.push(m[1]);
  }
  return [...found].sort();
}

function sourceHash(src, files) {
  const h = crypto.createHash('sha256');
  for (const name of files) {
    h.update(name + '\0');
    h.update(fs.readFileSync(path.join(src, name)));
    h.update('\0');
  }
  return h.digest('hex');
}

function build(src, contracts) {
  const files = [...new Set(contracts.flatMap((c) => sourceFiles(src, c)))].sort();
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(files.map((f) => [f, { content: fs.readFileSync(path.join(src, f), 'utf8') }])),
    settings: {
      ...SETTINGS,
      outputSelection: Object.fromEntries(
        contracts.map((c) => [c.source, { [c.name]: ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] }])
      ),
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + '\n');
  if (errors.length) throw new Error(`solc reported ${errors.length} error(s)`);
  const artifacts = {};
  for (const contract of contracts) {
    const c = output.contracts[contract.source] && output.contracts[contract.source][contract.name];
    if (!c) throw new Error(`solc produced no contract ${contract.name} in ${contract.source}`);
    artifacts[contract.name] = {
      contractName: contract.name,
      sourceFile: contract.source,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      compiler: { name: 'solcjs', version: solc.version(), settings: SETTINGS },
      sourceHash: sourceHash(src, sourceFiles(src, contract)),
    };
  }
  return artifacts;
}

function render(artifact) {
  return JSON.stringify(artifact, null, 2) + '\n';
}

function main() {
  const check = process.argv.includes('--check');
  const src = path.resolve(option('--src', path.join(ROOT, 'contracts_model', 'solidity')));
  const out = path.resolve(option('--out', path.join(ROOT, 'contracts_model', 'artifacts')));
  const only = option('--only', null);
  let contracts = SPEC.contracts;
  if (only) {
    const wanted = only.split(',');
    const unknown = wanted.filter((n) => !contracts.some((c) => c.name === n));
    if (unknown.length) throw new Error(`unknown contract(s): ${unknown.join(', ')}`);
    contracts = contracts.filter((c) => wanted.includes(c.name));
  }
  if (process.argv.includes('--changed')) {
    contracts = contracts.filter((c) => {
      const target = path.join(out, `${c.name}.json`);
      if (!fs.existsSync(target)) return true;
      return JSON.parse(fs.readFileSync(target, 'utf8')).sourceHash !== sourceHash(src, sourceFiles(src, c));
    });
  }
  const artifacts = contracts.length ? build(src, contracts) : {};
  const stale = [];
  for (const [name, artifact] of Object.entries(artifacts)) {
    const target = path.join(out, `${name}.json`);
    if (check) {
      const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
      if (current !== render(artifact)) stale.push(path.relative(ROOT, target));
    } else {
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(target, render(artifact));
    }
  }
  if (check && stale.length) {
    process.stderr.write(`artifacts out of date with their sources (run make contracts): ${stale.join(', ')}\n`);
    process.exit(1);
  }
  const names = Object.keys(artifacts);
  process.stdout.write(`${check ? 'checked' : 'wrote'} ${names.length} artifacts${names.length ? ` (${names.join(', ')})` : ''} with solc ${solc.version()}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`compile.js: ${err.message}\n`);
  process.exit(2);
}
