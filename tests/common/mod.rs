//! What the integration tests share: test transactions, a tiny HTTP/1.1 client over real
//! sockets, and a committee of `curtain node` processes on loopback.

// Each test binary includes this module and uses part of it.
#![allow(dead_code)]

use curtain::ledger::{KeyEpoch, Namespace};
use curtain::node::settings::{Committee, NodeFile};
use curtain_crypto::{encrypt, CommitteeKey, EncodedCiphertext, Label, Padding};
use rand_core::CryptoRng;
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `k`-th test transaction: plaintext `tx {k}` in namespace `k % 3` from sender `wallet`.
pub(crate) fn tx<R: CryptoRng + ?Sized>(
    key: &CommitteeKey,
    k: u64,
    rng: &mut R,
) -> EncodedCiphertext {
    let label = Label::new(key.id(), KeyEpoch(0), Namespace(k % 3), b"wallet").unwrap();
    seal(key, &label, format!("tx {k}").as_bytes(), rng)
}

/// `plaintext` encrypted to `key` under `label` (which may name another key or epoch).
pub(crate) fn seal<R: CryptoRng + ?Sized>(
    key: &CommitteeKey,
    label: &Label,
    plaintext: &[u8],
    rng: &mut R,
) -> EncodedCiphertext {
    encrypt(key.encryption_key(), label, plaintext, Padding::None, rng)
        .unwrap()
        .encoded()
        .clone()
}

/// One HTTP/1.1 request with an `application/octet-stream` body; returns (status, body), or
/// `None` if the server could not be reached.
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    Request::new(addr, method, path).send(body)
}

/// One HTTP/1.1 request (`Connection: close`), with a chosen content type and source address.
pub(crate) struct Request<'a> {
    addr: SocketAddr,
    method: &'a str,
    path: &'a str,
    /// `None` sends no `Content-Type` header.
    content_type: Option<&'a str>,
    /// Local address to connect from (another loopback address is another client).
    from: Option<IpAddr>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(addr: SocketAddr, method: &'a str, path: &'a str) -> Self {
        Self {
            addr,
            method,
            path,
            content_type: Some("application/octet-stream"),
            from: None,
        }
    }

    pub(crate) fn content_type(mut self, ct: Option<&'a str>) -> Self {
        self.content_type = ct;
        self
    }

    pub(crate) fn from(mut self, ip: IpAddr) -> Self {
        self.from = Some(ip);
        self
    }

    /// Sends `body`; returns (status, de-chunked body). A server may answer before reading
    /// the whole body (e.g. 413), so a failed body write still reads the answer.
    pub(crate) fn send(&self, body: &[u8]) -> Option<(u16, Vec<u8>)> {
        let mut s = connect(self.addr, self.from).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        s.set_write_timeout(Some(Duration::from_secs(30))).ok()?;
        let ctype = self
            .content_type
            .map(|c| format!("Content-Type: {c}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\n{ctype}Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.method,
            self.path,
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).ok()?;
        let _ = s.write_all(body);
        let mut resp = Vec::new();
        // a reset after a complete answer still leaves the answer read
        let _ = s.read_to_end(&mut resp);
        parse_response(&resp)
    }
}

fn connect(addr: SocketAddr, from: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let timeout = Duration::from_secs(2);
    let Some(ip) = from else {
        return TcpStream::connect_timeout(&addr, timeout);
    };
    // std cannot bind before connecting; tokio's socket can.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let socket = match ip {
            IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.bind(SocketAddr::new(ip, 0))?;
        let stream = tokio::time::timeout(timeout, socket.connect(addr)).await??;
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    })
}

fn parse_response(resp: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status: u16 = std::str::from_utf8(resp.get(9..12)?).ok()?.parse().ok()?;
    let head = String::from_utf8_lossy(&resp[..split]).to_lowercase();
    let mut body = resp[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") {
            let len =
                usize::from_str_radix(std::str::from_utf8(&rest[..pos]).ok()?.trim(), 16).ok()?;
            if len == 0 {
                break;
            }
            out.extend_from_slice(rest.get(pos + 2..pos + 2 + len)?);
            rest = rest.get(pos + 2 + len + 2..)?;
        }
        body = out;
    }
    Some((status, body))
}

/// Polls `f` every `every` until it returns `Some`, failing the test with `what` after
/// `timeout`.
pub(crate) fn poll<T>(
    timeout: Duration,
    every: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(every);
    }
}

/// A first port such that `width` consecutive loopback ports are free, from a slot in
/// `[lo, hi)` chosen by the process id (tests in separate binaries run at once) and moved on
/// while ports are taken.
pub(crate) fn free_ports(lo: u16, hi: u16, width: u16) -> u16 {
    let slots = (hi - lo) / width;
    let first = (std::process::id() % u32::from(slots)) as u16;
    (0..slots)
        .map(|k| lo + ((first + k) % slots) * width)
        .find(|&base| (base..base + width).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .expect("a free range of loopback ports")
}

/// The passphrase of the test committees' keystores.
pub(crate) const PASSPHRASE: &str = "curtain-test";

/// A committee dealt by `curtain committee new` in a fresh directory, its members run as
/// `curtain node` processes (stderr to `node<i>.log`), killed when this is dropped.
pub(crate) struct Nodes {
    pub dir: PathBuf,
    pub committee: Committee,
    /// API address of each member.
    pub api: Vec<SocketAddr>,
    /// Environment of every member process (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
    /// A command every member process runs under (e.g. `prlimit --nofile=1024 --`); empty:
    /// none.
    pub wrapper: Vec<String>,
    children: Vec<Option<Child>>,
}

impl Nodes {
    /// Deals `n` members into `<tmp>/<name>-<pid>`, member i on p2p port `base + i` and API
    /// port `base + n + i`; starts none.
    pub(crate) fn deal(name: &str, n: usize, base: u16) -> Self {
        Self::deal_with(name, n, base, &[])
    }

    /// [`Nodes::deal`] with more `curtain committee new` options (e.g. `--namespaces`).
    pub(crate) fn deal_with(name: &str, n: usize, base: u16, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let status = Command::new(env!("CARGO_BIN_EXE_curtain"))
            .args(["committee", "new", "--nodes", &n.to_string(), "--out"])
            .arg(&dir)
            .arg("--insecure-fast-kdf")
            .env("CURTAIN_PASSPHRASE", PASSPHRASE)
            .args(["--p2p-base-port", &base.to_string()])
            .args(["--api-base-port", &(base + n as u16).to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "curtain committee new");
        let committee = Committee::load(&dir.join("committee.json")).unwrap();
        let api = committee.participants.iter().map(|p| p.api).collect();
        Self {
            dir,
            committee,
            api,
            env: Vec::new(),
            wrapper: Vec::new(),
            children: (0..n).map(|_| None).collect(),
        }
    }

    pub(crate) fn node_toml(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node{i}/node.toml"))
    }

    /// Rewrites member i's node.toml.
    pub(crate) fn configure(&self, i: usize, change: impl FnOnce(&mut NodeFile)) {
        let path = self.node_toml(i);
        let mut file: NodeFile = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        change(&mut file);
        std::fs::write(&path, toml::to_string_pretty(&file).unwrap()).unwrap();
    }

    pub(crate) fn log(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node{i}.log"))
    }

    pub(crate) fn spawn(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(i))
            .unwrap();
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(env!("CARGO_BIN_EXE_curtain"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_curtain")),
        };
        let child = command
            .args(["node", "--config"])
            .arg(self.node_toml(i))
            .env("CURTAIN_PASSPHRASE", PASSPHRASE)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn curtain node");
        self.children[i] = Some(child);
    }

    /// Starts `members` and waits until each one's API answers.
    pub(crate) fn start(&mut self, members: std::ops::Range<usize>, timeout: Duration) {
        for i in members.clone() {
            self.spawn(i);
        }
        for i in members {
            self.wait_up(i, timeout);
        }
    }

    /// Waits until member i's API answers `/health`.
    pub(crate) fn wait_up(&self, i: usize, timeout: Duration) {
        poll(timeout, Duration::from_millis(200), "node API up", || {
            http(self.api[i], "GET", "/health", b"").filter(|(code, _)| *code == 200)
        });
    }

    /// SIGKILL.
    pub(crate) fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Hands member i's process over to the caller.
    pub(crate) fn take(&mut self, i: usize) -> Option<Child> {
        self.children[i].take()
    }

    /// Member i's process id, if it was started (and not killed or taken since).
    pub(crate) fn pid(&self, i: usize) -> Option<u32> {
        self.children[i].as_ref().map(Child::id)
    }

    /// Whether member i's process is still running.
    pub(crate) fn running(&mut self, i: usize) -> bool {
        match &mut self.children[i] {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// Stops every member and removes the directory.
    pub(crate) fn remove(mut self) {
        self.stop_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn stop_all(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}
