// The head of a CGI script's output (RFC 3875 6): header fields, a blank
// line, the body. LF or CRLF line ends are accepted (6.3.4 says NL; real
// scripts print both). An NPH script's head is an HTTP status line and fields.

/** Where the head ends in `buf`: the index of the first body byte, or -1 if no blank line yet. */
export function headEnd(buf: Buffer): number {
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) {
    if (i === 0 || (i === 1 && buf[0] === 13)) return i + 1;  // no header fields: malformed, parse() says so
    if (buf[i + 1] === 10) return i + 2;
    if (buf[i + 1] === 13 && buf[i + 2] === 10) return i + 3;
  }
  return -1;
}

export interface Head {
  status: number | undefined;
  location: string | undefined;
  /** Every field but Status, in order, names as sent. */
  fields: Array<[string, string]>;
}

// RFC 9110 5.1 token; field values without CTLs (5.5), so no response splitting.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function lines(text: string): string[] {
  const out = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

function field(line: string): [string, string] | string {
  // 6.3: no continuation lines (obs-fold), nothing before the colon but a name.
  if (line.startsWith(' ') || line.startsWith('\t')) return 'a continuation line';
  const colon = line.indexOf(':');
  if (colon <= 0) return `a line without a field name: ${JSON.stringify(line.slice(0, 80))}`;
  const name = line.slice(0, colon);
  const value = line.slice(colon + 1).trim();
  if (!TOKEN.test(name)) return `an invalid field name ${JSON.stringify(name.slice(0, 80))}`;
  if (BAD_VALUE.test(value)) return `a control character in the value of ${name}`;
  return [name, value];
}

/** A CGI head (document, local redirect or client redirect), or why it is malformed. */
export function parseCgiHead(text: string): Head | string {
  const head: Head = { status: undefined, location: undefined, fields: [] };
  let contentType = false;
  const all = lines(text);
  if (all.length === 0) return 'no header fields';
  for (const line of all) {
    const f = field(line);
    if (typeof f === 'string') return f;
    const [name, value] = f;
    const lower = name.toLowerCase();
    // 6.3: each of the CGI fields at most once.
    if (lower === 'status') {
      if (head.status !== undefined) return 'Status twice';
      const m = /^(\d{3})(?:\s.*)?$/.exec(value);
      if (!m || Number(m[1]) < 200 || Number(m[1]) > 599) return `a bad Status ${JSON.stringify(value.slice(0, 80))}`;
      head.status = Number(m[1]);
      continue;
    }
    if (lower === 'location') {
      if (head.location !== undefined) return 'Location twice';
      if (value === '') return 'an empty Location';
      head.location = value;
    } else if (lower === 'content-type') {
      if (contentType) return 'Content-Type twice';
      contentType = true;
    } else if (lower === 'content-length' && !/^\d{1,15}$/.test(value)) {
      return `a bad Content-Length ${JSON.stringify(value.slice(0, 80))}`;
    }
    head.fields.push([name, value]);
  }
  // 6.2: a response has at least one of the CGI fields.
  if (!contentType && head.location === undefined && head.status === undefined) return 'none of Content-Type, Location, Status';
  return head;
}

/** An NPH script's head: "HTTP/1.x NNN reason" and fields (RFC 3875 5). */
export function parseNphHead(text: string): Head | string {
  const all = lines(text);
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(all[0] ?? '');
  if (!m || Number(m[1]) < 200 || Number(m[1]) > 599) {
    return `an NPH script must start with an HTTP status line, not ${JSON.stringify((all[0] ?? '').slice(0, 80))}`;
  }
  const head: Head = { status: Number(m[1]), location: undefined, fields: [] };
  for (const line of all.slice(1)) {
    const f = field(line);
    if (typeof f === 'string') return f;
    if (f[0].toLowerCase() === 'content-length' && !/^\d{1,15}$/.test(f[1])) return `a bad Content-Length ${JSON.stringify(f[1])}`;
    head.fields.push(f);
  }
  return head;
}
