import yaml from 'js-yaml';

export interface Position {
  line: number;
  column: number;
}

interface Node {
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

  const stack: Node[] = [{ start: 0, end: text.length, result: undefined, children: [] }];
  let value: unknown;
  try {
    value = yaml.load(text, {
      filename,
      listener(type, state) {
        if (type === 'open') {
          stack.push({ start: skipBlank(text, state.position), end: -1, result: undefined, children: [] });
        } else {
          const node = stack.pop() as Node;
          node.end = state.position;
          node.result = state.result;
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
      for (let i = 0; i < path.length; i++) {
        const seg = path[i];
        const last = i === path.length - 1;
        let next: Node | undefined;
        if (Array.isArray(node.result)) {
          next = node.children[Number(seg)];
        } else if (node.result !== null && typeof node.result === 'object') {
          for (let k = 0; k + 1 < node.children.length; k += 2) {
            if (String(node.children[k]?.result) === String(seg)) {
              next = last && key ? node.children[k] : node.children[k + 1];
              break;
            }
          }
        }
        if (!next) break;
        node = next;
      }
      return toPosition(node.start);
    },
  };
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
