import assert from "node:assert/strict";
import { asFloat32, asUint32, packBlobs, unpackBlobs } from "../../engine/binary.ts";

/** A container whose u32 header length and header text are given outright. */
function container(header: string, size = 64): Uint8Array {
  const json = new TextEncoder().encode(header);
  const bytes = new Uint8Array(Math.max(size, 4 + json.length));
  new DataView(bytes.buffer).setUint32(0, json.length, true);
  bytes.set(json, 4);
  return bytes;
}

Deno.test("binary.packBlobs then unpackBlobs gives back the metadata and every blob's bytes", () => {
  const meta = { name: "chunk", rows: 2, nested: { list: [1, "two", null] } };
  const floats = Float32Array.of(1.5, -0, Infinity, NaN, 3.4028234663852886e38);
  const doubles = Float64Array.of(Math.PI, -1e-300);
  const words = Uint32Array.of(0, 1, 0xffffffff);
  const odd = Uint8Array.of(7, 8, 9); // 3 bytes: the next blob starts on padding
  const empty = new Uint8Array(0);
  const packed = packBlobs(meta, [odd, floats, empty, doubles, words]);
  const { meta: back, blobs } = unpackBlobs(packed);
  assert.deepEqual(back, meta);
  assert.equal(blobs.length, 5);
  assert.deepEqual(blobs[0], odd);
  assert.deepEqual(Array.from(asFloat32(blobs[1])), Array.from(floats));
  assert.ok(Object.is(asFloat32(blobs[1])[1], -0));
  assert.equal(blobs[2].length, 0);
  assert.deepEqual(new Float64Array(blobs[3].slice().buffer), doubles);
  assert.deepEqual(asUint32(blobs[4]), words);
});

Deno.test("binary.packBlobs starts every blob on an 8-byte boundary and pads the whole to 8", () => {
  const packed = packBlobs({ a: 1 }, [
    Uint8Array.of(1),
    Float64Array.of(2),
    Uint8Array.of(3, 4, 5),
  ]);
  assert.equal(packed.length % 8, 0);
  const { blobs } = unpackBlobs(packed);
  for (const blob of blobs) assert.equal(blob.byteOffset % 8, 0);
  // Header: u32 length, then the JSON that lists each blob's byte length.
  const length = new DataView(packed.buffer).getUint32(0, true);
  assert.equal(
    new TextDecoder().decode(packed.subarray(4, 4 + length)),
    '{"meta":{"a":1},"blobs":[1,8,3]}',
  );
  assert.equal(packed.length, 40 + 8 + 8 + 8);
});

Deno.test("binary.packBlobs copies only a typed array's own view, not the buffer around it", () => {
  const whole = Float32Array.of(1, 2, 3, 4);
  const { blobs } = unpackBlobs(packBlobs(null, [whole.subarray(1, 3)]));
  assert.deepEqual(Array.from(asFloat32(blobs[0])), [2, 3]);
});

Deno.test("binary.unpackBlobs returns views into its input, without copying", () => {
  const packed = packBlobs({}, [Float32Array.of(1, 2)]);
  const { blobs } = unpackBlobs(packed);
  assert.equal(blobs[0].buffer, packed.buffer);
  const floats = asFloat32(blobs[0]);
  assert.equal(floats.buffer, packed.buffer, "an aligned blob is read in place");
});

Deno.test("binary.asFloat32 and asUint32 copy a blob whose bytes are not 4-aligned, with the same values", () => {
  const packed = packBlobs({}, [Float32Array.of(0.25, -7), Uint32Array.of(9, 10)]);
  const shifted = new Uint8Array(packed.length + 1);
  shifted.set(packed, 1);
  const { blobs } = unpackBlobs(shifted.subarray(1));
  assert.equal(blobs[0].byteOffset % 4, 1);
  const floats = asFloat32(blobs[0]);
  assert.notEqual(floats.buffer, shifted.buffer);
  assert.deepEqual(Array.from(floats), [0.25, -7]);
  assert.deepEqual(Array.from(asUint32(blobs[1])), [9, 10]);
});

Deno.test("binary.asFloat32 and asUint32 refuse a blob that is not a whole number of values, aligned or not", () => {
  const bytes = new Uint8Array(16);
  for (const blob of [bytes.subarray(0, 10), bytes.subarray(1, 11)]) {
    assert.throws(() => asFloat32(blob), {
      name: "RangeError",
      message:
        "Cannot read a blob as float32 as its length must be a multiple of 4 bytes: current length is 10",
    });
    assert.throws(() => asUint32(blob), {
      name: "RangeError",
      message:
        "Cannot read a blob as uint32 as its length must be a multiple of 4 bytes: current length is 10",
    });
  }
});

Deno.test("binary.unpackBlobs refuses a container too short to hold its header length", () => {
  assert.throws(() => unpackBlobs(Uint8Array.of(1, 0, 0)), {
    name: "RangeError",
    message: "container of 3 bytes has no header",
  });
});

Deno.test("binary.unpackBlobs refuses a container whose header overruns it", () => {
  const packed = packBlobs({ long: "x".repeat(40) }, []);
  const length = new DataView(packed.buffer).getUint32(0, true);
  assert.throws(() => unpackBlobs(packed.subarray(0, 20)), {
    name: "RangeError",
    message: `container header of ${length} bytes overruns 20 bytes`,
  });
});

Deno.test("binary.unpackBlobs refuses a container whose blob overruns it", () => {
  const packed = packBlobs({}, [new Uint8Array(16)]);
  assert.equal(packed.length, 48); // 4 + 24 header bytes, padded to 32, then the blob
  assert.throws(() => unpackBlobs(packed.subarray(0, 47)), {
    name: "RangeError",
    message: "container blob of 16 bytes at 32 overruns 47",
  });
});

Deno.test("binary.unpackBlobs refuses bytes after the last blob", () => {
  const packed = packBlobs({}, [new Uint8Array(8)]);
  const longer = new Uint8Array(packed.length + 8);
  longer.set(packed);
  assert.throws(() => unpackBlobs(longer), {
    name: "RangeError",
    message: "container holds 48 bytes but its header accounts for 40",
  });
});

Deno.test("binary.unpackBlobs refuses a header that is not JSON, or lists no blob lengths", () => {
  assert.throws(() => unpackBlobs(container("{not json")), {
    name: "RangeError",
    message: "container header of 9 bytes is not JSON",
  });
  for (
    const [header, listed] of [
      ['{"meta":1}', "undefined"],
      ["null", "undefined"],
      ['{"blobs":"8"}', '"8"'],
      ['{"blobs":[8,-8]}', "[8,-8]"],
      ['{"blobs":[1.5]}', "[1.5]"],
    ]
  ) {
    assert.throws(() => unpackBlobs(container(header)), {
      name: "RangeError",
      message: `container header must list each blob's byte length: it lists ${listed}`,
    }, header);
  }
});
