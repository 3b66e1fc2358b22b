//! nginx started from the deployment configuration (`deploy/nginx/flotilla.conf`)
//! as an unprivileged process on a free loopback port, in front of given
//! replicas, with `replicas.conf` and `hot-models.conf` written beside it: for
//! the replica tests and the placement bench.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// nginx with the deployment configuration, in front of `replicas`.
pub struct Nginx {
    pub addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx on a free port, or answers `None` when it is not installed
    /// and the run is not CI's (under `CI` a missing nginx fails the test).
    pub fn start(replicas: &[SocketAddr], hot: &[&str]) -> Option<Nginx> {
        let Some(bin) = binary() else {
            assert!(std::env::var_os("CI").is_none(), "nginx is not installed (tests/deploy/install-nginx.sh)");
            eprintln!("skipped: nginx is not installed (tests/deploy/install-nginx.sh)");
            return None;
        };
        let dir = tempfile::tempdir().expect("a directory for nginx");
        // Workers drop root to `nobody`: they must reach the temp paths.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let port = free_port().expect("a free port");
        std::fs::write(dir.path().join("flotilla.conf"), render(&deploy_conf("flotilla.conf"), dir.path(), port))
            .unwrap();
        let servers: String = replicas.iter().map(|a| format!("server {a} max_fails=1 fail_timeout=5s;\n")).collect();
        std::fs::write(dir.path().join("replicas.conf"), servers).unwrap();
        let hot: String = hot.iter().map(|h| format!("\"{h}\" \"$flotilla_model#$flotilla_copy\";\n")).collect();
        std::fs::write(dir.path().join("hot-models.conf"), hot).unwrap();
        let log = std::fs::File::create(dir.path().join("error.log")).unwrap();
        let globals = format!("daemon off; pid {}/nginx.pid; error_log stderr warn;", dir.path().display());
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("flotilla.conf"))
            .args(["-g", &globals])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting nginx");
        let nginx = Nginx { addr: SocketAddr::from(([127, 0, 0, 1], port)), child, dir };
        nginx.wait_listening();
        Some(nginx)
    }

    fn wait_listening(&self) {
        let started = Instant::now();
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "nginx did not listen: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT is nginx's graceful stop; the master takes its workers with it.
        let _ = Command::new("kill").args(["-QUIT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The deployment file `deploy/nginx/{name}`.
fn deploy_conf(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The documented substitutions: the port, and temp paths and logs of its own.
fn render(conf: &str, dir: &Path, port: u16) -> String {
    assert!(conf.contains("listen 8080;"), "deploy/nginx/flotilla.conf no longer listens on 8080");
    let own: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|t| format!("    {t}_temp_path {}/{t}_temp;\n", dir.display()))
        .collect();
    conf.replacen("listen 8080;", &format!("listen 127.0.0.1:{port};"), 1).replacen(
        "http {\n",
        &format!("http {{\n{own}    access_log off;\n"),
        1,
    )
}

/// The nginx executable: on `PATH`, else Debian's `/usr/sbin/nginx`.
pub fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nginx"))
        .find(|p| p.exists());
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.exists()))
}
