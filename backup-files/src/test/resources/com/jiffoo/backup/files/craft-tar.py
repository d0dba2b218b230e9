# Writes a tar archive byte by byte, as an attacker would, from a JSON spec (first argument) to a file (second):
# {"entries": [{"name": N, "type": "x", "size": declared, "body": text, "repeat": n, "pax": {key: value},
#               "count": n}], "end": true}
# "size" may declare more than the body holds; the body is then written without padding (the test appends more).
# "pax" writes PAX records ("<length> key=value\n") as the body. "end": false leaves out the end-of-archive blocks.
import json, sys

spec = json.load(open(sys.argv[1]))
out = open(sys.argv[2], 'wb')


def header(name, typ, size):
    h = bytearray(512)

    def put(off, val):
        h[off:off + len(val)] = val

    put(0, name.encode()[:100]); put(100, b'0000644\0'); put(108, b'0000000\0'); put(116, b'0000000\0')
    put(124, ('%011o' % size).encode() + b'\0'); put(136, b'14000000000\0'); put(148, b' ' * 8)
    h[156] = ord(typ); put(257, b'ustar\x0000')
    put(148, ('%06o' % sum(h)).encode() + b'\0 ')
    return bytes(h)


def record(key, value):
    rest = ' %s=%s\n' % (key, value)
    n = len(rest) + 1
    while len(str(n)) + len(rest) != n:
        n += 1
    return str(n) + rest


for e in [x for x in spec['entries'] for _ in range(x.get('count', 1))]:
    body = e.get('body', '') * e.get('repeat', 1)
    body += ''.join(record(k, v) for k, v in e.get('pax', {}).items())
    body = body.encode()
    size = e.get('size', len(body))
    out.write(header(e['name'], e.get('type', '0'), size))
    out.write(body)
    if len(body) == size and size % 512:
        out.write(b'\0' * (512 - size % 512))
if spec.get('end', True):
    out.write(b'\0' * 1024)
out.close()
