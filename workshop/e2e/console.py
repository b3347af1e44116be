#!/usr/bin/env python3
"""Drive a QEMU whose serial console is on stdio, without human help.

Runs the command after `--`, timestamps every console line into --log,
answers prompts (--send REGEX TEXT), and stops at the first
`E2E-RESULT PASS|FAIL|SKIP` line or at the hard --timeout. Only the child it
started is ever signalled (by PID). On anything but PASS/SKIP it prints the
tail of the Xen, dom0 and domU output.

Exit status: 0 PASS, 1 FAIL or timeout, 3 SKIP.
"""
import argparse
import os
import re
import select
import signal
import subprocess
import sys
import time

RESULT_RE = re.compile(r'E2E-RESULT (PASS|FAIL|SKIP) (\S+)(?:: (.*))?')
MILESTONES = [
    ('dom0 init', re.compile(r'E2E-DOM0-MARKER')),
    ('toolstack', re.compile(r'E2E-DOM0: .*toolstack up')),
    ('xl create', re.compile(r'E2E-DOM0: .*xl create')),
    ('domU done', re.compile(r'E2E-DOM0: .*(domU marker seen|domU done)|E2E-DOMU-DONE')),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--log', required=True)
    ap.add_argument('--timeout', type=float, default=240)
    ap.add_argument('--name', default='boot')
    ap.add_argument('--send', nargs=2, action='append', default=[],
                    metavar=('REGEX', 'TEXT'))
    ap.add_argument('--verbose', action='store_true', help='echo every console line')
    ap.add_argument('--pass-re', help='also PASS on a line matching this')
    ap.add_argument('--fail-re', help='also FAIL on a line matching this')
    ap.add_argument('--grace', type=float, default=10,
                    help='seconds to wait for QEMU to exit after the result')
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd
    if not cmd:
        ap.error('no command')
    sends = [(re.compile(r), t) for r, t in a.send]

    t0 = time.monotonic()
    log = open(a.log, 'w', buffering=1)
    log.write('# %s\n' % ' '.join(cmd))
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, bufsize=0)

    def stop_child(sig=None, frame=None):
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(3)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if sig is not None:
            log.write('# interrupted\n')
            sys.exit(130)

    signal.signal(signal.SIGINT, stop_child)
    signal.signal(signal.SIGTERM, stop_child)

    lines = []          # (t, text)
    verdict, reason, t_result = None, '', None
    seen = {}
    buf = b''
    fd = child.stdout.fileno()
    deadline = t0 + a.timeout
    eof = False
    # Xen hands console input to dom0 through a small ring (128 bytes) and
    # drops what overflows, so typed text is paced: 32 bytes per 0.1 s.
    pending = bytearray()
    next_send = 0.0

    def handle(text):
        nonlocal verdict, reason, t_result
        t = time.monotonic() - t0
        lines.append((t, text))
        log.write('[%8.3f] %s\n' % (t, text))
        if a.verbose or 'E2E-' in text:
            print('[%7.2f] %s' % (t, text), flush=True)
        for name, rx in MILESTONES:
            if name not in seen and rx.search(text):
                seen[name] = t
        for i, (rx, txt) in enumerate(sends):
            if rx.search(text):
                pending.extend(txt.encode())
                log.write('# sending %r\n' % txt)
                sends.pop(i)
                break
        m = RESULT_RE.search(text)
        if m and verdict is None:
            verdict, reason, t_result = m.group(1), m.group(3) or '', t
        for v, rx in (('PASS', a.pass_re), ('FAIL', a.fail_re)):
            if rx and verdict is None and re.search(rx, text):
                verdict, reason, t_result = v, text.strip(), t

    while not eof:
        now = time.monotonic()
        if verdict is not None and now > t_result + a.grace:
            break                       # result known; QEMU did not power off
        if now > deadline:
            break
        if pending and now >= next_send:
            child.stdin.write(bytes(pending[:32]))
            child.stdin.flush()
            del pending[:32]
            next_send = now + 0.1
        r, _, _ = select.select([fd], [], [], 0.05 if pending else 0.5)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            eof = True
        buf += chunk
        while b'\n' in buf or (eof and buf):
            line, sep, buf = buf.partition(b'\n')
            handle(line.decode('utf-8', 'replace').rstrip('\r'))
    timed_out = verdict is None and not eof
    stop_child()
    rc = child.returncode
    total = time.monotonic() - t0
    if verdict is None:
        verdict = 'FAIL'
        reason = ('hard timeout after %.0f s' % a.timeout) if timed_out else \
            'QEMU exited (rc %s) without a result line' % rc
    log.write('# verdict %s %s; qemu rc %s; %.2f s\n' % (verdict, reason, rc, total))
    log.close()

    if verdict == 'FAIL':
        show_tails(lines)
    ms = ', '.join('%s %.1f s' % (n, seen[n]) for n, _ in MILESTONES if n in seen)
    print('%s: %s in %.1f s%s%s' % (a.name, verdict, total,
                                   '; ' + reason if reason else '',
                                   '; ' + ms if ms else ''), flush=True)
    print('    log: %s' % a.log)
    return {'PASS': 0, 'SKIP': 3}.get(verdict, 1)


def show_tails(lines):
    xen = [t for _, t in lines if '(XEN)' in t]
    domu = [t for _, t in lines if t.startswith('domU|')]
    dom0 = [t for _, t in lines if '(XEN)' not in t and not t.startswith('domU|')]
    for title, part, n in (('Xen', xen, 30), ('dom0', dom0, 50), ('domU', domu, 40)):
        print('----- %s console, last %d of %d lines -----' % (title, min(n, len(part)), len(part)))
        for t in part[-n:]:
            print('  ' + t)


if __name__ == '__main__':
    sys.exit(main())
