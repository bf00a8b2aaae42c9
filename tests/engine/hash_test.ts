import assert from "node:assert/strict";
import { canonicalJson, hashJson, sha256, toHex } from "../../engine/hash.ts";

Deno.test("canonicalJson() sorts object keys at every depth, so key order never changes a hash", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } }),
    '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
  );
  assert.equal(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }));
});

Deno.test("canonicalJson() keeps array order, which does change the output", () => {
  assert.equal(canonicalJson([2, 1]), "[2,1]");
  assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
});

Deno.test("canonicalJson() drops undefined fields, as JSON.stringify does, and writes null for undefined items", () => {
  assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
  assert.equal(canonicalJson({ a: 1, b: undefined }), canonicalJson({ a: 1 }));
  assert.equal(canonicalJson([undefined, 1]), JSON.stringify([undefined, 1]));
  assert.equal(canonicalJson(undefined), "null");
});

Deno.test("canonicalJson() writes scalars and escapes exactly as JSON.stringify", () => {
  for (const value of [0, -0, 1.5, 1e21, "", 'quote " and \\ and \n', "é∑", true, false, null]) {
    assert.equal(canonicalJson(value), JSON.stringify(value), String(value));
  }
  assert.equal(canonicalJson({ 'a"b': 1 }), '{"a\\"b":1}');
});

Deno.test("canonicalJson() parses back to the value it was given", () => {
  const params = {
    seed: 7,
    hidden: [100, 50],
    eta: 0.001,
    deskew: true,
    normalize: "scale",
    l1: 0,
  };
  assert.deepEqual(JSON.parse(canonicalJson(params)), params);
});

Deno.test("canonicalJson() refuses NaN and infinities, which JSON would turn into null", () => {
  for (
    const [value, shown] of [[NaN, "NaN"], [Infinity, "Infinity"], [
      -Infinity,
      "-Infinity",
    ]] as const
  ) {
    assert.throws(() => canonicalJson({ nested: [1, value] }), {
      name: "TypeError",
      message: `Cannot hash a non-finite number in params: current value is ${shown}`,
    });
  }
});

Deno.test("sha256() gives the FIPS 180-2 digests, the same for a string and its UTF-8 bytes", async () => {
  assert.equal(
    toHex(await sha256("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    toHex(await sha256("")),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.deepEqual(await sha256("é"), await sha256(new TextEncoder().encode("é")));
  assert.equal((await sha256("abc")).length, 32);
});

Deno.test("toHex() writes two lower-case digits per byte, leading zeros kept", () => {
  assert.equal(toHex(Uint8Array.of(0, 1, 15, 16, 171, 255)), "00010f10abff");
  assert.equal(toHex(new Uint8Array(0)), "");
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const hex = toHex(bytes);
  const back = Uint8Array.from(
    { length: 256 },
    (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16),
  );
  assert.deepEqual(back, bytes);
});

Deno.test("hashJson() is the hex SHA-256 of the canonical JSON, whatever the key order", async () => {
  const key = await hashJson({ name: "deskew", version: 2, params: { on: true } });
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(key, toHex(await sha256('{"name":"deskew","params":{"on":true},"version":2}')));
  assert.equal(key, await hashJson({ version: 2, params: { on: true }, name: "deskew" }));
  assert.notEqual(key, await hashJson({ name: "deskew", version: 3, params: { on: true } }));
});
