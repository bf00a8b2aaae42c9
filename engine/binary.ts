/**
 * A small container for typed arrays plus JSON metadata, used by stage codecs
 * and the model file: `u32 json length | json | padding to 8 | blob | padding | blob …`.
 * The JSON lists each blob's byte length, so a reader can check the total.
 *
 * @module
 */

/** A typed array the container can hold. */
export type Blob = Uint8Array | Float32Array | Float64Array | Uint32Array;

/** What {@linkcode unpackBlobs} returns: the metadata and one byte view per blob. */
export interface Unpacked {
  /** The JSON metadata given to {@linkcode packBlobs}. */
  meta: unknown;
  /** Each blob's bytes, a view into the input where alignment allows. */
  blobs: Uint8Array[];
}

const align8 = (n: number) => (n + 7) & ~7;

/** Packs metadata and blobs into one byte array. */
export function packBlobs(meta: unknown, blobs: readonly Blob[]): Uint8Array {
  const json = new TextEncoder().encode(
    JSON.stringify({ meta, blobs: blobs.map((b) => b.byteLength) }),
  );
  let size = align8(4 + json.length);
  for (const blob of blobs) size += align8(blob.byteLength);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  let offset = align8(4 + json.length);
  for (const blob of blobs) {
    out.set(new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength), offset);
    offset += align8(blob.byteLength);
  }
  return out;
}

/**
 * Unpacks what {@linkcode packBlobs} wrote; throws `RangeError` when the sizes
 * disagree or the header is not the JSON it wrote.
 */
export function unpackBlobs(bytes: Uint8Array): Unpacked {
  if (bytes.length < 4) throw new RangeError(`container of ${bytes.length} bytes has no header`);
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (4 + jsonLength > bytes.length) {
    throw new RangeError(`container header of ${jsonLength} bytes overruns ${bytes.length} bytes`);
  }
  let head: { meta?: unknown; blobs?: unknown };
  try {
    head = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + jsonLength)));
  } catch {
    throw new RangeError(`container header of ${jsonLength} bytes is not JSON`);
  }
  const lengths = head?.blobs;
  if (
    !Array.isArray(lengths) ||
    !lengths.every((n) => Number.isSafeInteger(n) && n >= 0)
  ) {
    throw new RangeError(
      `container header must list each blob's byte length: it lists ${JSON.stringify(lengths)}`,
    );
  }
  let offset = align8(4 + jsonLength);
  const blobs: Uint8Array[] = [];
  for (const length of lengths as number[]) {
    if (offset + length > bytes.length) {
      throw new RangeError(
        `container blob of ${length} bytes at ${offset} overruns ${bytes.length}`,
      );
    }
    blobs.push(bytes.subarray(offset, offset + length));
    offset += align8(length);
  }
  if (offset !== align8(bytes.length)) {
    throw new RangeError(
      `container holds ${bytes.length} bytes but its header accounts for ${offset}`,
    );
  }
  return { meta: head.meta, blobs };
}

/** Throws unless `bytes` holds a whole number of 4-byte values. */
function checkWhole(bytes: Uint8Array, type: string): void {
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(
      `Cannot read a blob as ${type} as its length must be a multiple of 4 bytes: ` +
        `current length is ${bytes.byteLength}`,
    );
  }
}

/** Reads a blob as float32, copying only when its bytes are not 4-aligned. */
export function asFloat32(bytes: Uint8Array): Float32Array {
  checkWhole(bytes, "float32");
  if (bytes.byteOffset % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  return new Float32Array(bytes.slice().buffer);
}

/** Reads a blob as uint32, copying only when its bytes are not 4-aligned. */
export function asUint32(bytes: Uint8Array): Uint32Array {
  checkWhole(bytes, "uint32");
  if (bytes.byteOffset % 4 === 0) {
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  return new Uint32Array(bytes.slice().buffer);
}
