/**
 * The framing of a Yjs v1 update, read again the way `Y.applyUpdate` reads it: `Y.decodeUpdate` is more
 * lenient in places (a clientID in two blocks, trailing bytes), and the authorship check must judge exactly
 * what Yjs will integrate.
 */
import * as decoding from "lib0/decoding";
import { badFrame } from "./check-failure.js";

/**
 * Re-reads the update's framing the way `Y.applyUpdate` does and refuses what `Y.decodeUpdate` would
 * read differently: a clientID in more than one block (Yjs keeps only the last one, so structs this check
 * judged would vanish and later ones would wait for them) and bytes after the delete set. Runs only on
 * updates `Y.decodeUpdate` accepted, so every content read below succeeds in the same places.
 */
export function checkFraming(update: Uint8Array): void {
  const decoder = decoding.createDecoder(update);
  const clients = new Set<number>();
  const blocks = decoding.readVarUint(decoder);
  for (let block = 0; block < blocks; block++) {
    const structs = decoding.readVarUint(decoder);
    const client = decoding.readVarUint(decoder);
    decoding.readVarUint(decoder); // first clock
    if (clients.has(client)) badFrame(`clientID ${client} appears in more than one block`);
    clients.add(client);
    for (let i = 0; i < structs; i++) skipStruct(decoder);
  }
  const deleteClients = decoding.readVarUint(decoder);
  for (let i = 0; i < deleteClients; i++) {
    decoding.readVarUint(decoder); // client
    const ranges = decoding.readVarUint(decoder);
    for (let j = 0; j < ranges; j++) {
      decoding.readVarUint(decoder); // clock
      decoding.readVarUint(decoder); // length
    }
  }
  if (decoding.hasContent(decoder)) badFrame("trailing bytes after the update");
}

/** Reads past one struct of a v1 update (layout: yjs `lazyStructReaderGenerator`, `contentRefs`). */
function skipStruct(decoder: decoding.Decoder): void {
  const info = decoding.readUint8(decoder);
  const kind = info & 0b11111;
  if (kind === 0 || kind === 10) {
    decoding.readVarUint(decoder); // GC or Skip length
    return;
  }
  const hasOrigin = (info & 0b1000_0000) !== 0;
  const hasRightOrigin = (info & 0b0100_0000) !== 0;
  if (hasOrigin) skipId(decoder);
  if (hasRightOrigin) skipId(decoder);
  if (!hasOrigin && !hasRightOrigin) {
    if (decoding.readVarUint(decoder) === 1)
      decoding.readVarString(decoder); // root name
    else skipId(decoder); // parent item
    if ((info & 0b0010_0000) !== 0) decoding.readVarString(decoder); // map key
  }
  skipContent(decoder, kind);
}

function skipId(decoder: decoding.Decoder): void {
  decoding.readVarUint(decoder);
  decoding.readVarUint(decoder);
}

function skipContent(decoder: decoding.Decoder, kind: number): void {
  switch (kind) {
    case 1: // deleted
      decoding.readVarUint(decoder);
      return;
    case 2: // JSON
    case 8: {
      // any
      const length = decoding.readVarUint(decoder);
      for (let i = 0; i < length; i++) {
        if (kind === 2) decoding.readVarString(decoder);
        else decoding.readAny(decoder);
      }
      return;
    }
    case 3: // binary
      decoding.readVarUint8Array(decoder);
      return;
    case 4: // string
    case 5: // embed
      decoding.readVarString(decoder);
      return;
    case 6: // format
      decoding.readVarString(decoder);
      decoding.readVarString(decoder);
      return;
    case 7: {
      // type: XML elements and hooks carry a name
      const typeRef = decoding.readVarUint(decoder);
      if (typeRef === 3 || typeRef === 5) decoding.readVarString(decoder);
      return;
    }
    case 9: // subdocument
      decoding.readVarString(decoder);
      decoding.readAny(decoder);
      return;
    default:
      badFrame(`unknown content type ${kind}`);
  }
}
