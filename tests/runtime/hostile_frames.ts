/** Hand-built hostile msgpack frames shared by the unit and cluster tests. */

/** `count` nested array16 headers each claiming `claim` elements: 3 bytes per header, none of the elements there. */
export function nestedArrayBomb(count: number, claim = 0xffff): Uint8Array {
  const frame = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) frame.set([0xdc, claim >> 8, claim & 0xff], 3 * i);
  return frame;
}
