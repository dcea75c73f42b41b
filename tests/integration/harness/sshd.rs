//! A real OpenSSH sshd per test: its own host key, a free loopback port, a chrooted SFTP-only user
//! (`internal-sftp`), and a chroot folder the test fills with files. Plus [`CutProxy`], a TCP proxy
//! that drops connections after N bytes, to test resume. Needs root and Debian's `openssh-server`;
//! a missing sshd FAILS the test (it never skips). Self-contained so `benches/sftp.rs` can include it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The SFTP user every test sshd serves (created once, under a lock).
pub const USER: &str = "alipayrecon";
pub const PASSWORD: &str = "sftp-test-password-7Q";
/// Passphrase of the client key generated per server.
pub const KEY_PASSPHRASE: &str = "client-key-passphrase-3";
const SSHD: &str = "/usr/sbin/sshd";
/// ChrootDirectory must be root-owned and not group/world-writable in every component: not /tmp.
const BASE: &str = "/run/alipay-recon-test";

pub struct Sshd {
    pub port: u16,
    /// `SHA256:…` of the host key, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    /// The chroot: a file put at `<root>/download/x` is `/download/x` to the client.
    pub root: PathBuf,
    /// ed25519 client key, encrypted with [`KEY_PASSPHRASE`], authorized for [`USER`].
    pub client_key: PathBuf,
    pub host_key_pub: PathBuf,
    pub log: PathBuf,
    dir: PathBuf,
    child: Child,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mkdir(p: &Path, mode: u32) {
    std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Creates the shared user once; parallel test processes serialize on a file lock.
fn ensure_user() {
    mkdir(Path::new(BASE), 0o755);
    let lock = std::fs::File::create(format!("{BASE}/.user.lock")).expect("lock file");
    // SAFETY: flock on a file descriptor we own; released when `lock` is dropped.
    assert_eq!(unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) }, 0, "flock");
    let exists = Command::new("id").arg("-u").arg(USER).output().map(|o| o.status.success()).unwrap_or(false);
    if !exists {
        run(Command::new("useradd").args(["-M", "-d", "/", "-s", "/usr/sbin/nologin", USER]));
    }
    // A user without a password is locked, and with `UsePAM no` sshd then refuses even key auth.
    let mut c = Command::new("chpasswd").stdin(Stdio::piped()).spawn().expect("chpasswd (package passwd)");
    c.stdin.take().unwrap().write_all(format!("{USER}:{PASSWORD}\n").as_bytes()).unwrap();
    assert!(c.wait().unwrap().success(), "chpasswd failed");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Sshd {
    /// Starts a private sshd; panics (fails the test) with the reason when it cannot.
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install it with `apt-get install -y --no-install-recommends openssh-server`"
        );
        ensure_user();
        // /run may be a tmpfs: sshd's privilege-separation dir must exist on every start.
        mkdir(Path::new("/run/sshd"), 0o755);
        static N: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().subsec_nanos()
        );
        let dir = PathBuf::from(BASE).join(id);
        let state = dir.join("state");
        let root = dir.join("root");
        mkdir(&dir, 0o755);
        // sshd reads authorized_keys as the user: the folder must be traversable.
        mkdir(&state, 0o711);
        mkdir(&root, 0o755);
        let host_key = state.join("host_key");
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "test-host", "-f"]).arg(&host_key));
        let client_key = state.join("client_key");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", KEY_PASSPHRASE, "-C", "test-client", "-f"])
            .arg(&client_key));
        let auth = state.join("authorized_keys");
        std::fs::copy(state.join("client_key.pub"), &auth).unwrap();
        std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o644)).unwrap();
        let host_key_pub = state.join("host_key.pub");
        let fp = run(Command::new("ssh-keygen").arg("-lf").arg(&host_key_pub));
        let fingerprint = fp.split_whitespace().nth(1).expect("fingerprint").to_string();
        let log = state.join("sshd.log");
        for _ in 0..5 {
            let port = free_port();
            let conf = state.join("sshd_config");
            std::fs::write(
                &conf,
                format!(
                    "ListenAddress 127.0.0.1:{port}\nHostKey {hk}\nPidFile {st}/sshd.pid\n\
                     AuthorizedKeysFile {auth}\nStrictModes no\nUsePAM no\nPasswordAuthentication yes\n\
                     KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin no\n\
                     AllowUsers {USER}\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\nMaxStartups 100\n\
                     Match User {USER}\n  ChrootDirectory {root}\n  ForceCommand internal-sftp\n  \
                     AllowTcpForwarding no\n  X11Forwarding no\n",
                    hk = host_key.display(),
                    st = state.display(),
                    auth = auth.display(),
                    root = root.display(),
                ),
            )
            .unwrap();
            let _ = std::fs::remove_file(&log);
            let mut cmd = Command::new(SSHD);
            // SAFETY: prctl is async-signal-safe; it only asks the kernel to TERM sshd when the test
            // that started it dies, so a killed test run leaves no sshd behind.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let mut child = cmd
                .arg("-D")
                .arg("-f")
                .arg(&conf)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .spawn()
                .expect("start sshd");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains(&format!("Server listening on 127.0.0.1 port {port}")) {
                    return Sshd { port, fingerprint, root, client_key, host_key_pub, log, dir, child };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // port taken in the meantime, or a config problem: see the log below
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("sshd on port {port} did not start:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        panic!("sshd did not start after 5 attempts; log: {}", std::fs::read_to_string(&log).unwrap_or_default());
    }

    /// Writes a file into the served tree (folders created root-owned 0755, file 0644).
    pub fn put(&self, remote: &str, bytes: &[u8]) -> PathBuf {
        let p = self.local(remote);
        let parent = p.parent().unwrap();
        std::fs::create_dir_all(parent).unwrap();
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    }

    /// Local path of a remote path.
    pub fn local(&self, remote: &str) -> PathBuf {
        self.root.join(remote.trim_start_matches('/'))
    }

    /// [`Sshd::put`] a file last written an hour ago: stable, so a run fetches it at once.
    pub fn put_stable(&self, remote: &str, bytes: &[u8]) {
        self.put(remote, bytes);
        self.age(remote, Duration::from_secs(3600));
    }

    /// Sets a served file's modification time to `ago` in the past.
    pub fn age(&self, remote: &str, ago: Duration) {
        let f = std::fs::File::options().write(true).open(self.local(remote)).unwrap();
        f.set_modified(SystemTime::now() - ago).unwrap();
    }

    /// A known_hosts line for this server (`[127.0.0.1]:port ssh-ed25519 AAAA…`).
    pub fn known_hosts_line(&self) -> String {
        let pubkey = std::fs::read_to_string(&self.host_key_pub).unwrap();
        let mut parts = pubkey.split_whitespace();
        format!("[127.0.0.1]:{} {} {}\n", self.port, parts.next().unwrap(), parts.next().unwrap())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback TCP proxy to `127.0.0.1:target`. The first `cuts` connections are dropped (both ways)
/// once `after` bytes went from the server to the client; later ones pass through. `delay_per_mb`
/// slows the server→client direction so a test can interrupt a transfer midway.
pub struct CutProxy {
    pub port: u16,
    /// Bytes sent server→client over all connections.
    pub bytes: Arc<AtomicU64>,
    /// Connections dropped so far.
    pub cut: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CutProxy {
    pub fn start(target: u16, after: u64, cuts: usize) -> CutProxy {
        CutProxy::start_slow(target, after, cuts, Duration::ZERO)
    }

    pub fn start_slow(target: u16, after: u64, cuts: usize, delay_per_mb: Duration) -> CutProxy {
        CutProxy::spawn(target, after, cuts, delay_per_mb, false)
    }

    /// Like [`CutProxy::start`], but instead of dropping, the connections go silent (held open, nothing
    /// forwarded): what a dead link behind a NAT looks like. Tests the I/O timeout.
    pub fn start_stalling(target: u16, after: u64) -> CutProxy {
        CutProxy::spawn(target, after, usize::MAX, Duration::ZERO, true)
    }

    fn spawn(target: u16, after: u64, cuts: usize, delay_per_mb: Duration, stall: bool) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bytes = Arc::new(AtomicU64::new(0));
        let cut = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, c, s) = (bytes.clone(), cut.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0usize;
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let limit = if n < cuts { Some(after) } else { None };
                n += 1;
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut &c2, &mut &s2);
                    let _ = s2.shutdown(Shutdown::Write);
                });
                let (b, c) = (b.clone(), c.clone());
                std::thread::spawn(move || pump(server, client, limit, delay_per_mb, stall, &b, &c));
            }
        });
        CutProxy { port, bytes, cut, stop }
    }
}

/// Copies server→client, counting; drops both sockets once `limit` bytes passed.
fn pump(
    server: TcpStream,
    client: TcpStream,
    limit: Option<u64>,
    delay_per_mb: Duration,
    stall: bool,
    total: &AtomicU64,
    cut: &AtomicUsize,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    let mut since_delay = 0u64;
    loop {
        let room = limit.map(|l| (l - sent) as usize).unwrap_or(buf.len()).min(buf.len());
        if room == 0 {
            cut.fetch_add(1, Ordering::SeqCst);
            if stall {
                // Hold both sockets open without forwarding until the client gives up.
                let mut sink = [0u8; 4096];
                while matches!((&client).read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        let n = match (&server).read(&mut buf[..room]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if (&client).write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
        total.fetch_add(n as u64, Ordering::SeqCst);
        since_delay += n as u64;
        if !delay_per_mb.is_zero() && since_delay >= 1 << 20 {
            since_delay = 0;
            std::thread::sleep(delay_per_mb);
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
