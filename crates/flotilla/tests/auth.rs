//! `--auth basic` on a real server process: 401s in each protocol's shape,
//! Basic and Bearer as the mlflow client sends them, read-only tokens refused
//! on writes, revocation and expiry seen at once, the first admin's
//! bootstrap, the non-loopback refusal without auth, the authenticated
//! caller as the audit actor, and no secret in the log.

use std::process::Command;
use std::time::Duration;

use base64::Engine;
use flotilla_store::SqliteStore;
use flotilla_store::prelude::*;
use flotilla_testkit::{Process, Reply, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn call(server: &TestServer, method: &str, path: &str, auth: Option<&str>, body: Option<&Value>) -> Reply {
    let mut headers = vec![];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    server.request(method, path, &headers, &bytes)
}

fn ok(reply: Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

fn basic_server() -> TestServer {
    TestServer::start(options!().env("FLOTILLA_AUTH", "basic").env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD))
}

const SEARCH: &str = "/api/2.0/mlflow/experiments/search?max_results=1";

#[test]
fn credentials_are_required_and_refused_in_each_protocols_shape() {
    let server = basic_server();
    let admin = basic("admin", ADMIN_PASSWORD);
    // (path, credentials) -> 401 in the path's shape
    for (path, auth) in [
        (SEARCH, None),
        (SEARCH, Some(basic("admin", "wrong-password-1"))),
        (SEARCH, Some(basic("nobody", ADMIN_PASSWORD))),
        (SEARCH, Some("Basic !!!".to_string())),
        (SEARCH, Some(bearer("flt_AAAAAAAA_nottherightsecret"))),
        (SEARCH, Some(bearer("ghp_not_ours"))),
        ("/api/2.0/mlflow/no-such-route", None),
        ("/v2/models/m/ready", None),
        // A page with a wrong password (without any, it redirects to the login page: tests/session.rs).
        ("/models", Some(basic("admin", "wrong-password-1"))),
    ] {
        let r = call(&server, "GET", path, auth.as_deref(), None);
        assert_eq!(r.status, 401, "{path} {auth:?}: {}", r.text());
        let challenge = r.header("www-authenticate").unwrap_or_default();
        if path == "/models" {
            assert_eq!(challenge, "", "the UI has its login page, not the browser's dialog");
        } else {
            assert!(challenge.contains(r#"Basic realm="flotilla""#), "{path}: {challenge}");
        }
        if path.starts_with("/v2/") {
            assert!(r.json()["error"].as_str().unwrap().contains("not authenticated"), "{}", r.text());
        } else if path == "/models" {
            assert!(r.header("content-type").unwrap().starts_with("text/html"));
        } else {
            assert_eq!(r.error_code(), "UNAUTHENTICATED", "{path}");
        }
    }
    // A refused POST leaves its body unread, so the connection is closed, and says so:
    // the mlflow client pools connections (tests/resilience/connections.rs has the class).
    let refused = call(&server, "POST", "/api/2.0/mlflow/experiments/create", None, Some(&json!({"name": "x"})));
    assert_eq!((refused.status, refused.header("connection")), (401, Some("close")), "{}", refused.text());
    // Probes stay open.
    for path in ["/health", "/v2/health/live", "/v2/health/ready"] {
        assert_eq!(server.get(path).status, 200, "{path}");
    }
    ok(call(&server, "GET", SEARCH, Some(&admin), None));
    // A password that starts like a token is still a password.
    let body = json!({ "username": "tina", "password": "flt_is_my_password" });
    ok(call(&server, "POST", "/api/2.0/mlflow/users/create", Some(&admin), Some(&body)));
    ok(call(&server, "GET", SEARCH, Some(&basic("tina", "flt_is_my_password")), None));
    let me = ok(call(&server, "GET", "/api/2.0/mlflow/users/current", Some(&admin), None));
    assert_eq!((me["user"]["username"].as_str(), me["user"]["is_admin"].as_bool()), (Some("admin"), Some(true)));
}

#[test]
fn users_tokens_scopes_and_revocation() {
    // Debug logging, so the no-secret check at the end covers every level a deployment might use.
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_LOG", "debug"),
    );
    let admin = basic("admin", ADMIN_PASSWORD);
    let user = |u: &str, p: &str| json!({ "username": u, "password": p });
    let created =
        ok(call(&server, "POST", "/api/2.0/mlflow/users/create", Some(&admin), Some(&user("bob", "bob-password-1"))));
    assert_eq!(created["user"]["experiment_permissions"], json!([]));
    let bob = basic("bob", "bob-password-1");
    // Admin-only and self-service, as MLflow's basic-auth app decides.
    let r = call(&server, "POST", "/api/2.0/mlflow/users/create", Some(&bob), Some(&user("eve", "eve-password-1")));
    assert_eq!((r.status, r.error_code()), (403, "PERMISSION_DENIED".to_string()));
    ok(call(&server, "GET", "/ajax-api/2.0/mlflow/users/get?username=bob", Some(&bob), None));
    assert_eq!(call(&server, "GET", "/api/2.0/mlflow/users/get?username=admin", Some(&bob), None).status, 403);
    let r = call(&server, "POST", "/api/2.0/mlflow/users/create", Some(&admin), Some(&user("eve", "short")));
    assert_eq!((r.status, r.error_code()), (400, "INVALID_PARAMETER_VALUE".to_string()));

    // Tokens: shown once, listed without secrets, Bearer or as the Basic password.
    let token = |scope: &str| {
        let body = json!({ "name": format!("{scope} token"), "scope": scope });
        let t = ok(call(&server, "POST", "/api/fleet/v1/tokens", Some(&bob), Some(&body)));
        t["token"].as_str().unwrap().to_string()
    };
    let (read, write) = (token("read"), token("write"));
    assert!(read.starts_with("flt_") && write.starts_with("flt_"));
    let listed = ok(call(&server, "GET", "/api/fleet/v1/tokens", Some(&bob), None)).to_string();
    assert!(!listed.contains(&read[13..]) && !listed.contains(&write[13..]), "{listed}");
    let create_experiment = |auth: &str, name: &str| {
        call(&server, "POST", "/api/2.0/mlflow/experiments/create", Some(auth), Some(&json!({ "name": name })))
    };
    ok(call(&server, "GET", SEARCH, Some(&bearer(&read)), None));
    ok(call(&server, "POST", "/api/2.0/mlflow/experiments/search", Some(&bearer(&read)), Some(&json!({}))));
    let r = create_experiment(&bearer(&read), "by-read-token");
    assert_eq!((r.status, r.error_code()), (403, "PERMISSION_DENIED".to_string()));
    ok(create_experiment(&bearer(&write), "by-write-token"));
    ok(create_experiment(&basic("bob", &write), "by-token-as-password"));

    // Revoked through the API: refused at once, though it was cached a moment ago.
    let write_id = &write[4..12];
    ok(call(&server, "DELETE", &format!("/api/fleet/v1/tokens/{write_id}"), Some(&bob), None));
    assert_eq!(call(&server, "GET", SEARCH, Some(&bearer(&write)), None).status, 401);
    // Revoked by the CLI in another process: refused once the server polls the generation.
    let cli = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["token", "revoke", &read[4..12], "--data-dir"])
        .arg(server.data_dir())
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(call(&server, "GET", SEARCH, Some(&bearer(&read)), None).status, 401);

    // A changed password: the old one is refused at once, the new one works.
    let change = json!({ "username": "bob", "password": "bob-password-2" });
    ok(call(&server, "PATCH", "/api/2.0/mlflow/users/update-password", Some(&bob), Some(&change)));
    assert_eq!(call(&server, "GET", SEARCH, Some(&bob), None).status, 401);
    let bob2 = basic("bob", "bob-password-2");
    ok(call(&server, "GET", SEARCH, Some(&bob2), None));
    let promote = json!({ "username": "bob", "is_admin": true });
    ok(call(&server, "PATCH", "/api/2.0/mlflow/users/update-admin", Some(&admin), Some(&promote)));
    let me = ok(call(&server, "GET", "/api/2.0/mlflow/users/current", Some(&bob2), None));
    assert_eq!(me["user"]["is_admin"], true, "an admin flip is seen at once");
    ok(call(&server, "DELETE", "/api/2.0/mlflow/users/delete", Some(&admin), Some(&json!({ "username": "bob" }))));
    assert_eq!(call(&server, "GET", SEARCH, Some(&bob2), None).status, 401);

    // The log holds no password, token or Authorization value.
    let log = server.log_text();
    for secret in [ADMIN_PASSWORD, "bob-password-1", "bob-password-2", &read, &write, &read[13..], &admin[6..]] {
        assert!(!log.contains(secret), "the log contains a secret: {secret}");
    }
}

#[test]
fn an_expired_token_is_refused_at_once() {
    let server = basic_server();
    let admin = basic("admin", ADMIN_PASSWORD);
    ok(call(
        &server,
        "POST",
        "/api/2.0/mlflow/users/create",
        Some(&admin),
        Some(&json!({ "username": "ann", "password": "ann-password-1" })),
    ));
    // A token that expires in a second and a half, written straight into the store.
    let secret = "s".repeat(43);
    let store = SqliteStore::open(&server.data_dir().join("flotilla.db")).unwrap();
    let ann = store.get_user("ann").unwrap();
    let expires_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 + 1500;
    let hash: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(secret.as_bytes()).into()
    };
    store
        .create_token(&flotilla_store::auth::NewToken {
            id: "EXPIRING".into(),
            user_id: ann.id,
            name: "short-lived".into(),
            scope: flotilla_store::auth::TokenScope::Read,
            secret_hash: hash,
            expires_at,
        })
        .unwrap();
    let token = format!("flt_EXPIRING_{secret}");
    std::thread::sleep(Duration::from_millis(300)); // the server polls the generation
    ok(call(&server, "GET", SEARCH, Some(&bearer(&token)), None));
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(call(&server, "GET", SEARCH, Some(&bearer(&token)), None).status, 401, "expired while cached");
}

#[test]
fn the_audit_actor_is_the_authenticated_caller() {
    let server = basic_server();
    let admin = basic("admin", ADMIN_PASSWORD);
    ok(call(&server, "POST", "/api/2.0/mlflow/registered-models/create", Some(&admin), Some(&json!({ "name": "m" }))));
    let version = json!({ "name": "m", "source": "mlflow-artifacts:/0/m" });
    ok(call(&server, "POST", "/api/2.0/mlflow/model-versions/create", Some(&admin), Some(&version)));
    let headers =
        [("Authorization", admin.as_str()), ("Content-Type", "application/json"), ("X-Flotilla-Actor", "mallory")];
    let body = json!({ "changes": [{ "model": "m", "alias": "champion", "version": 1 }] }).to_string();
    let r = server.request("POST", "/api/fleet/v1/aliases/bulk", &headers, body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    // An MLflow API move records the caller too.
    let alias = json!({ "name": "m", "alias": "staging", "version": "1" });
    ok(call(&server, "POST", "/api/2.0/mlflow/registered-models/alias", Some(&admin), Some(&alias)));
    let audit = ok(call(&server, "GET", "/api/fleet/v1/audit?model=m", Some(&admin), None));
    let events = audit["events"].as_array().unwrap();
    let mut aliases: Vec<_> = events.iter().map(|e| e["alias"].as_str().unwrap()).collect();
    aliases.sort();
    assert_eq!(aliases, ["champion", "staging"], "{audit}");
    for event in events {
        assert_eq!(
            (event["actor"].as_str(), event["actor_verified"].as_bool()),
            (Some("admin"), Some(true)),
            "{audit}"
        );
    }
}

#[test]
fn the_first_admin_gets_a_one_time_password_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        Process::start(options!().arg("--auth").arg("basic").launch(dir.path(), dir.path()))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let first = start();
    let log = first.log_text();
    let password = log
        .split("one-time password: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no one-time password in the log:\n{log}"))
        .to_string();
    assert!(password.len() >= 20, "{password}");
    assert_eq!(log.matches(&password).count(), 1, "printed exactly once");
    let status = |p: &Process, auth: &str| {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(p.addr).unwrap();
        let head =
            format!("GET {SEARCH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n");
        conn.write_all(head.as_bytes()).unwrap();
        let mut bytes = Vec::new();
        conn.read_to_end(&mut bytes).unwrap();
        Reply::parse(&bytes).status
    };
    assert_eq!(status(&first, &basic("admin", &password)), 200);
    drop(first);
    let second = start();
    assert!(!second.log_text().contains("one-time password"), "{}", second.log_text());
    assert_eq!(status(&second, &basic("admin", &password)), 200, "the password survives a restart");
}

#[test]
fn without_auth_a_non_loopback_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["server", "--host", "0.0.0.0", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .env_remove("FLOTILLA_AUTH")
        .env_remove("FLOTILLA_INSECURE_NO_AUTH")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without authentication") && stderr.contains("--auth basic"), "{stderr}");
    // An admin password the rule refuses stops the start too.
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["server", "--auth", "basic", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .env("FLOTILLA_ADMIN_PASSWORD", "password1234")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("password1234"));
}

#[test]
fn the_cli_manages_users_on_the_data_directory() {
    let server = basic_server();
    let flotilla = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(args)
            .arg("--data-dir")
            .arg(server.data_dir())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    flotilla(&["user", "create", "carol", "--password-stdin"], Some("carol-password-1\n"));
    std::thread::sleep(Duration::from_millis(300)); // the server polls the generation
    let carol = basic("carol", "carol-password-1");
    ok(call(&server, "GET", SEARCH, Some(&carol), None));
    assert!(flotilla(&["user", "list"], None).contains("carol"));
    let token = flotilla(&["token", "create", "--user", "carol", "--scope", "write"], None).trim().to_string();
    assert!(token.starts_with("flt_"), "{token}");
    ok(call(
        &server,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        Some(&bearer(&token)),
        Some(&json!({ "name": "cli" })),
    ));
    assert!(flotilla(&["token", "list", "--user", "carol"], None).contains(&token[4..12]));
    flotilla(&["user", "set-admin", "carol", "true"], None);
    flotilla(&["user", "delete", "carol"], None);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(call(&server, "GET", SEARCH, Some(&carol), None).status, 401);
    assert_eq!(call(&server, "GET", SEARCH, Some(&bearer(&token)), None).status, 401, "tokens go with their user");
}

#[test]
fn the_fleet_cli_sends_the_mlflow_credentials_to_a_server() {
    let server = basic_server();
    let audit = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.args(["fleet", "audit", "--json", "--server", &server.base_url()]);
        for var in ["MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "FLOTILLA_SERVER"]
        {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied()).output().unwrap()
    };
    assert_eq!(audit(&[]).status.code(), Some(5), "no credentials: not authenticated");
    let basic = audit(&[("MLFLOW_TRACKING_USERNAME", "admin"), ("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)]);
    assert!(basic.status.success(), "{}", String::from_utf8_lossy(&basic.stderr));
    let body = json!({ "scope": "read" });
    let token =
        ok(call(&server, "POST", "/api/fleet/v1/tokens", Some(&self::basic("admin", ADMIN_PASSWORD)), Some(&body)));
    let bearer = audit(&[("MLFLOW_TRACKING_TOKEN", token["token"].as_str().unwrap())]);
    assert!(bearer.status.success(), "{}", String::from_utf8_lossy(&bearer.stderr));
}

#[test]
fn the_cli_manages_users_and_tokens_through_a_server() {
    let server = basic_server();
    let url = server.base_url();
    let flotilla = |args: &[&str], creds: &[(&str, &str)], stdin: &str| {
        use std::io::Write;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.args(args).args(["--server", &url]);
        for var in ["MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "FLOTILLA_SERVER"]
        {
            cmd.env_remove(var);
        }
        cmd.envs(creds.iter().copied());
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let text = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let admin = [("MLFLOW_TRACKING_USERNAME", "admin"), ("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)];
    let dave = [("MLFLOW_TRACKING_USERNAME", "dave"), ("MLFLOW_TRACKING_PASSWORD", "dave-password-1")];
    text(flotilla(&["user", "create", "dave", "--password-stdin"], &admin, "dave-password-1\n"));
    assert!(text(flotilla(&["user", "list"], &dave, "")).contains("dave"));
    // (command, as whom) -> exit code: 5 for refused, as on the data directory
    assert_eq!(flotilla(&["user", "delete", "admin"], &dave, "").status.code(), Some(5), "not an admin");
    assert_eq!(flotilla(&["user", "list"], &[], "").status.code(), Some(5), "no credentials");
    let token = text(flotilla(&["token", "create", "--scope", "write"], &dave, "")).trim().to_string();
    ok(call(&server, "GET", SEARCH, Some(&bearer(&token)), None));
    assert!(text(flotilla(&["token", "list"], &dave, "")).contains(&token[4..12]));
    text(flotilla(&["token", "revoke", &token[4..12]], &dave, ""));
    assert_eq!(call(&server, "GET", SEARCH, Some(&bearer(&token)), None).status, 401);
    text(flotilla(&["user", "delete", "dave"], &admin, ""));
}
