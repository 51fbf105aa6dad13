import yaml from 'js-yaml';

export interface Position {
  line: number;
  column: number;
}

interface Node {
  /** Where the node opened, before blank space. */
  open: number;
  start: number;
  end: number;
  result: unknown;
  children: Node[];
}

/** A parsed YAML document that can say where any value (by JSON pointer path) was written. */
export interface YamlSource {
  value: unknown;
  /** Position of the value at `path`; for `key: true`, of the mapping key itself. Falls back to the nearest parent. */
  locate(path: ReadonlyArray<string | number>, key?: boolean): Position;
}

export class YamlSyntaxError extends Error {
  constructor(message: string, readonly position: Position) {
    super(message);
  }
}

/**
 * js-yaml builds plain values; its `listener` reports where each node opens and closes. From
 * that a small tree of positions is kept beside the value, so errors can name line and column.
 */
export function parseYaml(text: string, filename: string): YamlSource {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const toPosition = (offset: number): Position => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (lineStarts[lo] as number) + 1 };
  };

  const stack: Node[] = [{ open: 0, start: 0, end: text.length, result: undefined, children: [] }];
  let value: unknown;
  try {
    value = yaml.load(text, {
      filename,
      listener(type, state) {
        if (type === 'open') {
          stack.push({ open: state.position, start: skipBlank(text, state.position), end: -1, result: undefined, children: [] });
        } else {
          const node = stack.pop() as Node;
          node.end = state.position;
          node.result = state.result;
          // An empty node (a bare `-` or `key:`) is where it opened, not at the next line's text.
          if (node.end <= node.start) node.start = node.open;
          // js-yaml wraps some nodes in a second composeNode call: keep the inner one.
          const inner = node.children.length === 1 ? node.children[0] : undefined;
          (stack[stack.length - 1] as Node).children.push(inner && inner.result === node.result ? inner : node);
        }
      },
    });
  } catch (err) {
    const e = err as { mark?: { line: number; column: number }; reason?: string; message: string };
    const position = e.mark ? { line: e.mark.line + 1, column: e.mark.column + 1 } : { line: 1, column: 1 };
    throw new YamlSyntaxError(e.reason ?? e.message, position);
  }
  const root = (stack[0] as Node).children.find((n) => n.result === value) ?? (stack[0] as Node).children[0];

  return {
    value,
    locate(path, key = false) {
      let node = root;
      if (!node) return { line: 1, column: 1 };
      let position = node.start;
      for (let i = 0; i < path.length; i++) {
        const slot = childSlot(text, node, path[i] as string | number);
        if (!slot) break;
        const last = i === path.length - 1;
        if (last && key && slot.key) {
          position = slot.key.start;
          break;
        }
        position = slot.position;
        if (!slot.value) break;
        node = slot.value;
      }
      return toPosition(position);
    },
  };
}

interface Slot {
  key: Node | undefined;
  value: Node | undefined;
  position: number;
}

/**
 * The child of a mapping or sequence node. js-yaml reports no node for an empty value
 * (`- ` or `key:`), so children are matched to the value's entries one by one; an empty entry
 * gets the position of its key, or of its `-`.
 */
function childSlot(text: string, node: Node, seg: string | number): Slot | undefined {
  const kids = node.children;
  if (Array.isArray(node.result)) {
    const items = node.result as unknown[];
    let k = 0;
    let prevEnd = node.start;
    for (let i = 0; i < items.length; i++) {
      const child = kids[k];
      const hasNode = child !== undefined && (items[i] !== null || child.result === null);
      const slot: Slot = hasNode ? { key: undefined, value: child, position: child.start } : { key: undefined, value: undefined, position: skipBlank(text, prevEnd) };
      if (hasNode) {
        k++;
        prevEnd = child.end;
      } else prevEnd = skipBlank(text, prevEnd) + 1;
      if (i === Number(seg)) return slot;
    }
    return undefined;
  }
  if (node.result !== null && typeof node.result === 'object') {
    const obj = node.result as Record<string, unknown>;
    const keys = Object.keys(obj);
    let k = 0;
    for (let i = 0; i < keys.length; i++) {
      const keyNode = kids[k];
      if (keyNode === undefined) return undefined;
      k++;
      const value = obj[keys[i] as string];
      const next = kids[k];
      const nextIsKey = next !== undefined && i + 1 < keys.length && String(next.result) === keys[i + 1] && value === null;
      let valueNode: Node | undefined;
      if (next !== undefined && !nextIsKey && (value !== null || next.result === null)) {
        valueNode = next;
        k++;
      }
      if (String(keyNode.result) === String(seg)) return { key: keyNode, value: valueNode, position: valueNode ? valueNode.start : keyNode.start };
    }
  }
  return undefined;
}

function skipBlank(text: string, pos: number): number {
  let i = pos;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else if (c === 35 /* # */) {
      while (i < text.length && text.charCodeAt(i) !== 10) i++;
    } else return i;
  }
}
