#!/usr/bin/env node
// Usage: node verify.mjs BASE_URL TOKEN FUNCTION [INPUT_JSON] [--expect-measurement HEX]
//                       [--code FILE]
//   TOKEN may be "@FILE" (the token is read from FILE, e.g. var/fnbox/admin.token) or "-"
//   (taken from the FNBOX_TOKEN environment variable); INPUT_JSON defaults to null.
//
// What a careful caller of an fnbox oracle does, with Node's built-in crypto only:
//   1. make a fresh random nonce and fetch GET /v1/attestation?nonce=...;
//   2. check the report: it echoes the nonce, report_data = SHA-512(nonce || public_key ||
//      measurement), its ECDSA signature (P-256, or secp256k1 for an instance started with
//      --key-scheme secp256k1) verifies under the public_key it carries, its confinement (the
//      worker confinement active, signed) is well-formed, and (with --expect-measurement) the
//      measurement is the one you expect;
//   3. invoke FUNCTION with ?sign=1;
//   4. check the receipt: rebuild its canonical bytes (docs/attestation.md), verify the
//      r||s signature under the attested public key, and check that input_sha256 is the hash
//      of the body sent, output_sha256 the hash of the exact "result" text received, the
//      measurement the attested one (and, with --code FILE, code_sha256 the hash of FILE);
//      for secp256k1, that recovery_id recovers the attested key from (SHA-256(canonical
//      bytes), r, s), as EVM ecrecover with v = 27 + recovery_id does. (The Ethereum
//      `address` needs Keccak-256, which Node's crypto lacks: `fnbox verify` checks it.)
// Prints one line per check; exits 0 only when every check passed, 1 otherwise, 2 on a
// usage error.
//
// A "software" report (hardware_backed: false) is signed by the very key it vouches for: it
// proves the receipt and the report come from the same instance key, not that the key lives
// in a TEE. Only a hardware-backed report (a TDX or SEV-SNP quote) can show that: for a "tsm"
// report this sample checks that the quote carries the report_data (the binding), not the
// quote's own signature chain — use Intel DCAP QVL (TDX) or `snpguest verify` (SEV-SNP).

import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

// ---- secp256k1 public-key recovery, with BigInt (affine coordinates; speed is no concern) ---
const K1 = {
  p: BigInt('0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f'),
  n: BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141'),
  G: [BigInt('0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'),
    BigInt('0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8')],
};
const mod = (a, m) => ((a % m) + m) % m;
function modInv(a, m) { // extended Euclid: a^-1 mod m (m prime, a not 0 mod m)
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}
function powMod(b, e, m) {
  let r = 1n;
  for (b = mod(b, m); e > 0n; e >>= 1n, b = b * b % m) if (e & 1n) r = r * b % m;
  return r;
}
function ecAdd(P, Q) { // null is the point at infinity
  const { p } = K1;
  if (P === null) return Q;
  if (Q === null) return P;
  let l;
  if (P[0] === Q[0]) {
    if (mod(P[1] + Q[1], p) === 0n) return null;
    l = mod(3n * P[0] * P[0] * modInv(2n * P[1], p), p);
  } else {
    l = mod((Q[1] - P[1]) * modInv(Q[0] - P[0], p), p);
  }
  const x = mod(l * l - P[0] - Q[0], p);
  return [x, mod(l * (P[0] - x) - P[1], p)];
}
function ecMul(k, P) {
  let R = null;
  for (; k > 0n; k >>= 1n, P = ecAdd(P, P)) if (k & 1n) R = ecAdd(R, P);
  return R;
}
// Q = r^-1 (s R - e G), R the point with x = r and y of parity id: what ecrecover computes.
// Returns 0x04 || X || Y as hex, or null when nothing is recovered.
function k1Recover(digestHex, r, s, id) {
  const { p, n, G } = K1;
  if (r <= 0n || r >= n || s <= 0n || s >= n || (id !== 0 && id !== 1)) return null;
  const y2 = mod(r ** 3n + 7n, p);
  let y = powMod(y2, (p + 1n) / 4n, p); // p = 3 mod 4
  if (y * y % p !== y2) return null;
  if ((y & 1n) !== BigInt(id)) y = p - y;
  const ri = modInv(r, n);
  const e = BigInt('0x' + digestHex);
  const Q = ecAdd(ecMul(mod(-e * ri, n), G), ecMul(mod(s * ri, n), [r, y]));
  return Q === null ? null : '04' + Q[0].toString(16).padStart(64, '0') + Q[1].toString(16).padStart(64, '0');
}

function usage(msg) {
  if (msg) console.error(`verify.mjs: ${msg}`);
  console.error('Usage: node verify.mjs BASE_URL TOKEN FUNCTION [INPUT_JSON] ' +
                '[--expect-measurement HEX] [--code FILE]');
  process.exit(2);
}

function parseArgs(argv) {
  const pos = [];
  const opt = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--expect-measurement' || a === '--code') {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      opt[a.slice(2)] = argv[++i];
    } else if (a === '--help' || a === '-h') {
      usage();
    } else if (a === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    } else if (a.startsWith('--')) {
      usage(`unknown option ${a}`);
    } else {
      pos.push(a);
    }
  }
  if (pos.length < 3 || pos.length > 4) usage();
  return { base: pos[0].replace(/\/+$/, ''), token: pos[1], fn: pos[2], input: pos[3], opt };
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const sha512 = (b) => createHash('sha512').update(b).digest('hex');
const isHex = (s, bytes) =>
  typeof s === 'string' && s.length % 2 === 0 && s.length > 0 && /^[0-9a-f]*$/.test(s) &&
  (bytes === undefined || s.length === 2 * bytes);

let failed = 0;
function check(ok, what, detail) {
  console.log(`${ok ? 'ok    ' : 'FAILED'} ${what}: ${detail}`);
  if (!ok) failed++;
  return ok;
}

// ---- the raw text of the top-level members, as they appear in a response body ----------
// output_sha256 is the hash of the "result" value exactly as the server wrote it: a
// re-encoding (JSON.stringify of the parsed value) may differ in number spelling, escapes
// or spacing, so the bytes are cut out of the body itself. The scan also refuses a body with
// a key given twice in any object (JSON.parse would silently keep the last one, and a
// verifier must not pick one of two values).
function rawMembers(text) {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const fail = (m) => { throw new Error(`response body: ${m} at offset ${i}`); };
  const str = () => {
    if (text[i] !== '"') fail('expected a string');
    const start = i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text.charCodeAt(i) < 0x20) fail('control character in a string');
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = (members) => {
    ws();
    const start = i;
    const c = text[i];
    if (c === '"') {
      str();
    } else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      const seen = new Set();
      i++; ws();
      if (text[i] === close) { i++; }
      else {
        for (;;) {
          let key = null;
          if (c === '{') {
            ws(); key = str(); ws();
            if (seen.has(key)) fail(`key ${JSON.stringify(key)} given twice`);
            seen.add(key);
            if (text[i] !== ':') fail("expected ':'");
            i++;
          }
          const [s, e] = value(null);
          if (members && key !== null) members.set(key, text.slice(s, e));
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === close) { i++; break; }
          fail(`expected ',' or '${close}'`);
        }
      }
    } else {
      const m = /^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null)/
        .exec(text.slice(i, i + 400));
      if (!m) fail('unexpected character');
      i += m[0].length;
    }
    return [start, i];
  };
  const members = new Map();
  ws();
  if (text[i] !== '{') fail('not a JSON object');
  value(members);
  ws();
  if (i !== text.length) fail('trailing data');
  return members;
}

// ---- canonical bytes (docs/attestation.md) ---------------------------------------------
// The confinement tokens, in their sorted order (attestation/evidence.c holds the same list).
const CONFINEMENT_TOKENS = ['bounding-set-dropped', 'fs-hidden', 'ipc-ns', 'net-ns',
  'no-new-privs', 'pid-ns', 'seccomp', 'uid-switch', 'user-ns', 'uts-ns', 'zygote-seccomp'];

// null when c is a confinement string (known tokens, sorted, no repeats; or "none"), else why not
function confinementError(c) {
  if (typeof c !== 'string') return 'confinement is missing or not a string';
  if (c === 'none') return null;
  let last = -1;
  for (const t of c.split(',')) {
    const i = CONFINEMENT_TOKENS.indexOf(t);
    if (i < 0) return `confinement holds an unknown token ${JSON.stringify(t.slice(0, 32))}`;
    if (i <= last) return 'confinement tokens are not sorted, or one is repeated';
    last = i;
  }
  return null;
}

function reportMessage(r) {
  // v3: eight lines and the confinement; v4 (a report with a hardware quote) has the SHA-256
  // of the raw quote before the confinement line
  const lines = [r.provider, r.platform, r.tee_id, r.measurement, r.public_key, r.nonce,
    r.report_data, String(r.time)];
  if (r.quote !== undefined) lines.push(sha256(Buffer.from(r.quote, 'hex')));
  lines.push(r.confinement);
  return `fnbox-attestation-v${r.quote !== undefined ? 4 : 3}\n` +
    lines.map((f) => `${f}\n`).join('');
}

// The report data inside a tsm report's quote (docs/attestation.md: TDX quote v4 REPORTDATA
// at byte 568, SEV-SNP REPORT_DATA at 0x50), or an Error saying why it cannot be read. Only
// the layout is checked here, not the quote's vendor signature (Intel DCAP QVL / snpguest).
function quoteReportData(r) {
  if (!isHex(r.quote)) throw new Error('quote is not lowercase hex');
  const q = Buffer.from(r.quote, 'hex');
  if (r.platform === 'tdx') {
    if (q.length < 636) throw new Error(`TDX quote is ${q.length} bytes, shorter than 636`);
    if (q.readUInt16LE(0) !== 4 || q.readUInt32LE(4) !== 0x81)
      throw new Error('not a TDX quote version 4');
    if (636 + q.readUInt32LE(632) !== q.length) throw new Error('TDX quote length is inconsistent');
    if (r.tdx?.mrtd !== q.subarray(184, 232).toString('hex')) throw new Error('tdx.mrtd is not the quote\'s');
    return q.subarray(568, 632).toString('hex');
  }
  if (r.platform === 'sev-snp') {
    if (q.length !== 0x4a0) throw new Error(`SEV-SNP report is ${q.length} bytes, not 1184`);
    const v = q.readUInt32LE(0);
    if (v < 2 || v > 5) throw new Error(`SEV-SNP report version ${v} is not supported`);
    if (r.sev_snp?.measurement !== q.subarray(0x90, 0xc0).toString('hex'))
      throw new Error('sev_snp.measurement is not the quote\'s');
    return q.subarray(0x50, 0x90).toString('hex');
  }
  throw new Error(`platform ${r.platform} has no quote format`);
}

function receiptMessage(rc) {
  // v2 carries how the invocation was isolated; a receipt without it is v1 (older fnboxd)
  const v2 = rc.isolation !== undefined;
  if (v2 && rc.isolation !== 'process' && rc.isolation !== 'snapshot')
    throw new Error('isolation is not "process" or "snapshot"');
  const lines = [rc.invocation_id, rc.function, String(rc.version), rc.code_sha256,
    rc.input_sha256, rc.output_sha256, rc.measurement, String(rc.time),
    ...(v2 ? [rc.isolation] : []), String(rc.fetches.length)];
  for (const f of rc.fetches)
    lines.push(f.url, String(f.status), f.response_sha256, f.tls_peer_sha256 ?? '');
  lines.push(String(rc.secrets.length), ...rc.secrets);
  for (const l of lines)
    if (typeof l !== 'string' || l.includes('\n')) throw new Error('a receipt field holds a newline');
  return (v2 ? 'fnbox-receipt-v2\n' : 'fnbox-receipt-v1\n') + lines.map((l) => `${l}\n`).join('');
}

// The one spelling the format allows for each key scheme: SPKI DER, uncompressed point.
const SCHEMES = {
  p256: { prefix: '3059301306072a8648ce3d020106082a8648ce3d03010703420004', bytes: 91,
    curve: 'prime256v1', n: P256_N, label: 'ECDSA P-256' },
  secp256k1: { prefix: '3056301006072a8648ce3d020106052b8104000a03420004', bytes: 88,
    curve: 'secp256k1', n: K1.n, label: 'ECDSA secp256k1' },
};

function instanceKey(hex) {
  for (const [scheme, sc] of Object.entries(SCHEMES)) {
    if (!hex.startsWith(sc.prefix) || hex.length !== 2 * sc.bytes) continue;
    const key = createPublicKey({ key: Buffer.from(hex, 'hex'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails.namedCurve !== sc.curve)
      throw new Error(`not an ${sc.label} key`);
    return { key, scheme, point: hex.slice(hex.length - 130) };
  }
  throw new Error('not the SubjectPublicKeyInfo of a P-256 (91 bytes) or secp256k1 (88 bytes) key');
}

async function get(url, init) {
  let res;
  try {
    res = await fetch(url, { ...init, redirect: 'error' });
  } catch (e) {
    console.error(`verify.mjs: ${url.split('?')[0]}: ${e.cause?.message ?? e.message}`);
    process.exit(1);
  }
  return { status: res.status, text: await res.text() };
}

// ---- main --------------------------------------------------------------------------------
const args = parseArgs(process.argv.slice(2));
let token = args.token;
if (token === '-') token = process.env.FNBOX_TOKEN ?? usage('FNBOX_TOKEN is not set');
else if (token.startsWith('@')) token = readFileSync(token.slice(1), 'utf8').trim();
const expectMeasurement = args.opt['expect-measurement']?.toLowerCase();
if (expectMeasurement !== undefined && !isHex(expectMeasurement, 32))
  usage('--expect-measurement must be 64 hex digits');
const inputBody = args.input ?? 'null';
try { JSON.parse(inputBody); } catch { usage('INPUT_JSON is not valid JSON'); }

// 1-2. attestation bound to a fresh nonce
const nonce = randomBytes(32).toString('hex');
const att = await get(`${args.base}/v1/attestation?nonce=${nonce}`);
if (att.status !== 200) {
  console.error(`verify.mjs: GET /v1/attestation: HTTP ${att.status}: ${att.text.slice(0, 300)}`);
  process.exit(1);
}
let report;
try {
  rawMembers(att.text); // no duplicate keys
  report = JSON.parse(att.text);
} catch (e) {
  console.error(`verify.mjs: GET /v1/attestation: ${e.message}`);
  process.exit(1);
}
let attKey = null;
const fieldsOk = isHex(report.measurement, 32) && isHex(report.public_key) &&
  isHex(report.nonce) && isHex(report.report_data, 64) && isHex(report.signature) &&
  Number.isSafeInteger(report.time) &&
  ['provider', 'platform', 'tee_id'].every((k) => typeof report[k] === 'string');
check(fieldsOk, 'report fields', fieldsOk ? 'present and well-formed' : 'missing or malformed');
// the active worker confinement, in the signed bytes: checked here, trusted once the
// signature below verifies
const confErr = confinementError(report.confinement);
check(confErr === null, 'report confinement', confErr === null
  ? `${report.confinement} (signed: the worker confinement the instance reports)` : confErr);
if (fieldsOk && confErr === null) {
  check(report.nonce === nonce, 'report nonce', report.nonce === nonce
    ? 'the fresh nonce sent with this request' : `${report.nonce} is not the nonce sent (a replay?)`);
  const want = sha512(Buffer.concat([Buffer.from(nonce, 'hex'), Buffer.from(report.public_key, 'hex'),
    Buffer.from(report.measurement, 'hex')]));
  check(report.report_data === want, 'report_data',
    report.report_data === want ? 'SHA-512(nonce || public_key || measurement)'
      : 'does not bind this nonce, key and measurement');
  try {
    attKey = instanceKey(report.public_key);
    check(report.key_scheme === attKey.scheme, 'report key', report.key_scheme === attKey.scheme
      ? `${SCHEMES[attKey.scheme].label}, SPKI sha256 ${sha256(Buffer.from(report.public_key, 'hex'))}`
      : `key_scheme ${report.key_scheme} is not the key's (${attKey.scheme})`);
    if (attKey.scheme === 'secp256k1')
      console.log(`note   address: ${report.address} (the Ethereum address of the key; not checked here)`);
  } catch (e) {
    check(false, 'report key', e.message);
  }
  if (attKey) {
    const ok = verify('sha256', Buffer.from(reportMessage(report)), { key: attKey.key, dsaEncoding: 'der' },
      Buffer.from(report.signature, 'hex'));
    check(ok, 'report signature', ok ? 'valid ECDSA-SHA256 under public_key'
      : 'does not verify: the report was altered or not signed by this key');
  }
  if (expectMeasurement !== undefined)
    check(report.measurement === expectMeasurement, 'measurement',
      report.measurement === expectMeasurement ? `${report.measurement} as expected`
        : `${report.measurement}, expected ${expectMeasurement}`);
  else
    console.log(`note   measurement: ${report.measurement} (pass --expect-measurement to pin it)`);
  if (report.provider === 'tsm') {
    let qrd = null;
    try { qrd = quoteReportData(report); } catch (e) { check(false, 'quote', e.message); }
    if (qrd !== null)
      check(qrd === want, 'quote report data', qrd === want
        ? `the ${report.platform} quote carries SHA-512(nonce || public_key || measurement)`
        : 'the quote was made for another key, nonce or measurement');
    console.log(`note   quote signature: NOT checked here; verify the quote with ${report.platform === 'tdx'
      ? "Intel's DCAP quote verification library (QVL)" : '`snpguest verify`'} and pin its registers`);
  } else if (report.hardware_backed !== true) {
    console.log(`note   provider ${report.provider}, platform ${report.platform}: NOT hardware-backed; ` +
      'the report is signed by the key it vouches for');
  } else {
    check(false, 'provider', `${report.provider} is hardware_backed but not a provider this sample knows`);
  }
}

// 3. invoke with ?sign=1
const inv = await get(`${args.base}/v1/functions/${encodeURIComponent(args.fn)}/invoke?sign=1`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  body: inputBody,
});
let body = null;
try { body = JSON.parse(inv.text); } catch { /* reported below */ }
if (inv.status !== 200 || body === null || typeof body.receipt !== 'object' || body.receipt === null) {
  check(false, 'invoke', `HTTP ${inv.status}, no receipt: ${inv.text.slice(0, 300)}`);
  console.error(`verify.mjs: ${failed} check(s) failed`);
  process.exit(1);
}
const rc = body.receipt;
console.log(`result ${JSON.stringify(body.result)}`);

// 4. the receipt
const rcOk = ['invocation_id', 'function', 'code_sha256', 'input_sha256', 'output_sha256',
  'measurement', 'public_key', 'signature'].every((k) => typeof rc[k] === 'string') &&
  Number.isSafeInteger(rc.version) && Number.isSafeInteger(rc.time) &&
  Array.isArray(rc.fetches) && Array.isArray(rc.secrets) &&
  rc.secrets.every((s) => typeof s === 'string') &&
  rc.fetches.every((f) => f && typeof f.url === 'string' && Number.isSafeInteger(f.status) &&
    typeof f.response_sha256 === 'string' &&
    (f.tls_peer_sha256 === undefined || f.tls_peer_sha256 === null || typeof f.tls_peer_sha256 === 'string'));
check(rcOk, 'receipt fields', rcOk ? 'present and well-formed' : 'missing or malformed');
if (rcOk) {
  check(rc.function === args.fn, 'receipt function', `${rc.function} version ${rc.version}`);
  check(rc.invocation_id === body.invocation_id, 'receipt invocation_id', rc.invocation_id);
  const inHash = sha256(Buffer.from(inputBody));
  check(rc.input_sha256 === inHash, 'input_sha256',
    rc.input_sha256 === inHash ? 'SHA-256 of the body sent' : `${rc.input_sha256}, the body sent hashes to ${inHash}`);
  let raw = null;
  try {
    raw = rawMembers(inv.text).get('result') ?? null;
    if (raw === null) check(false, 'output_sha256', 'the response has no "result"');
  } catch (e) {
    check(false, 'output_sha256', e.message);
  }
  if (raw !== null) {
    const outHash = sha256(Buffer.from(raw, 'utf8'));
    check(rc.output_sha256 === outHash, 'output_sha256', rc.output_sha256 === outHash
      ? `SHA-256 of the raw "result" text (${Buffer.byteLength(raw)} bytes)`
      : `${rc.output_sha256}, the "result" received hashes to ${outHash}`);
  }
  if (args.opt.code !== undefined) {
    const codeHash = sha256(readFileSync(args.opt.code));
    check(rc.code_sha256 === codeHash, 'code_sha256', rc.code_sha256 === codeHash
      ? `the hash of ${args.opt.code}` : `${rc.code_sha256}, ${args.opt.code} hashes to ${codeHash}`);
  } else {
    console.log(`note   code_sha256: ${rc.code_sha256} (pass --code FILE to compare)`);
  }
  if (fieldsOk) {
    check(rc.measurement === report.measurement, 'receipt measurement',
      rc.measurement === report.measurement ? 'the attested one' : `${rc.measurement} is not the attested ${report.measurement}`);
    check(rc.public_key === report.public_key, 'receipt key',
      rc.public_key === report.public_key ? 'the attested public_key' : 'not the attested public_key');
  }
  check(attKey !== null && rc.key_scheme === attKey.scheme, 'receipt key_scheme', String(rc.key_scheme));
  // signed in a v2 receipt: a fresh process ran it, or a snapshot worker (its heap reset)
  console.log(`note   receipt isolation: ${rc.isolation ?? 'not stated (a v1 receipt)'}`);
  let msg = null;
  try { msg = Buffer.from(receiptMessage(rc)); } catch (e) { check(false, 'receipt encoding', e.message); }
  if (msg !== null && attKey !== null && rc.public_key === report.public_key) {
    const sig = isHex(rc.signature, 64) ? Buffer.from(rc.signature, 'hex') : null;
    const ok = sig !== null &&
      verify('sha256', msg, { key: attKey.key, dsaEncoding: 'ieee-p1363' }, sig);
    check(ok, 'receipt signature', ok ? `valid r||s ECDSA-SHA256 over ${msg.length} canonical bytes`
      : 'does not verify: the receipt was altered or signed by another key');
    if (sig !== null) {
      const n = SCHEMES[attKey.scheme].n;
      const s = BigInt('0x' + rc.signature.slice(64));
      check(s <= n / 2n, 'receipt signature low-s', s <= n / 2n ? 's <= n/2' : 's > n/2');
    }
    if (typeof rc.signature_der === 'string') {
      const okDer = isHex(rc.signature_der) &&
        verify('sha256', msg, { key: attKey.key, dsaEncoding: 'der' }, Buffer.from(rc.signature_der, 'hex'));
      check(okDer, 'receipt signature_der', okDer ? 'valid too' : 'does not verify');
    }
    if (attKey.scheme === 'secp256k1') {
      // what a contract does: ecrecover(sha256(bytes), 27 + recovery_id, r, s)
      const id = rc.recovery_id;
      const got = sig !== null && (id === 0 || id === 1)
        ? k1Recover(sha256(msg), BigInt('0x' + rc.signature.slice(0, 64)),
          BigInt('0x' + rc.signature.slice(64)), id) : null;
      const okRec = got !== null && got === attKey.point;
      check(okRec, 'receipt recovery_id', okRec
        ? `${id} recovers the attested key from (sha256(bytes), r, s): ecrecover v = ${27 + id}`
        : `${JSON.stringify(id)} does not recover the attested key`);
    }
  }
  console.log(`note   receipt: ${rc.fetches.length} fetch(es)` +
    rc.fetches.map((f) => `\n         ${f.url} -> ${f.status} sha256 ${f.response_sha256}` +
      (f.tls_peer_sha256 ? ` tls peer ${f.tls_peer_sha256}` : '')).join('') +
    `; secrets read: ${rc.secrets.length ? rc.secrets.join(', ') : 'none'}; time ${rc.time}`);
}

if (failed > 0) {
  console.error(`verify.mjs: ${failed} check(s) failed`);
  process.exit(1);
}
console.log('verified: the attested instance signed this result of this code for this input');
