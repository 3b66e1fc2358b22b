//! The UI's login on a real server process (`--auth basic`): the session
//! cookie's attributes, the redirect to the login page (and no open redirect
//! out of it), one answer for a wrong password and an unknown user, login
//! CSRF, CSRF bound to the session on pages and JSON routes alike, and the
//! session's end: logout, a new password, the user's deletion.

use base64::Engine;
use flotilla_testkit::{Reply, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const REFUSED: &str = "Incorrect user name or password.";
const SEARCH: &str = "/api/2.0/mlflow/experiments/search?max_results=1";

fn basic_server() -> TestServer {
    TestServer::start(options!().env("FLOTILLA_AUTH", "basic").env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD))
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn post_form(server: &TestServer, path: &str, extra: &[(&str, &str)], pairs: &[(&str, &str)]) -> Reply {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    headers.extend_from_slice(extra);
    server.request("POST", path, &headers, form_body(pairs).as_bytes())
}

fn admin_json(server: &TestServer, method: &str, path: &str, body: &Value) -> Value {
    let admin = basic("admin", ADMIN_PASSWORD);
    let headers = [("Authorization", admin.as_str()), ("Content-Type", "application/json")];
    let r = server.request(method, path, &headers, body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
    r.json()
}

/// The reply's `Set-Cookie` for the session cookie (the UI may set others).
fn session_cookie(r: &Reply) -> Option<&str> {
    r.headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("flotilla_session="))
        .map(|(_, v)| v.as_str())
}

/// Logs in through the form; the `Cookie` header value for the session.
fn login(server: &TestServer, user: &str, password: &str) -> String {
    let r = post_form(server, "/login", &[], &[("username", user), ("password", password), ("next", "/")]);
    assert_eq!(r.status, 303, "{}", r.text());
    let set = session_cookie(&r).expect("a session cookie");
    set.split(';').next().unwrap().to_string()
}

/// The session's CSRF token, from the logout form every page carries.
fn csrf_of(server: &TestServer, cookie: &str) -> String {
    let page = server.request("GET", "/models", &[("Cookie", cookie)], b"");
    assert_eq!(page.status, 200, "{}", page.text());
    let text = page.text();
    let at = text.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    text[at..at + 64].to_string()
}

fn alive(server: &TestServer, cookie: &str) -> bool {
    let r = server.request("GET", SEARCH, &[("Cookie", cookie)], b"");
    assert!(matches!(r.status, 200 | 401), "{}", r.text());
    r.status == 200
}

#[test]
fn login_sets_a_session_cookie_and_pages_send_strangers_to_it() {
    let server = basic_server();
    // A page without a session goes to the login page, and back afterwards; the API keeps its 401.
    for (path, next) in [("/models", "%2Fmodels"), ("/models?contains=a%20b", "%2Fmodels%3Fcontains%3Da%2520b")] {
        let r = server.get(path);
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.header("location"), Some(format!("/login?next={next}").as_str()), "{path}");
        assert_eq!(r.header("www-authenticate"), None, "no browser password dialog");
    }
    let r = server.get(SEARCH);
    assert_eq!((r.status, r.error_code().as_str()), (401, "UNAUTHENTICATED"));
    let page = server.get("/login?next=%2Fmodels");
    assert_eq!(page.status, 200);
    assert!(page.text().contains(r#"name="next" value="/models""#), "{}", page.text());
    assert_eq!(server.get("/static/app.css").status, 200, "the login page's files are public");

    // One answer for a wrong password and an unknown user.
    for (user, password) in [("admin", "wrong-password-1"), ("nobody", ADMIN_PASSWORD), ("", "")] {
        let r = post_form(&server, "/login", &[], &[("username", user), ("password", password)]);
        assert_eq!(r.status, 401, "{user}");
        assert!(r.text().contains(REFUSED), "{}", r.text());
        assert_eq!(session_cookie(&r), None);
    }

    let r =
        post_form(&server, "/login", &[], &[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", "/models")]);
    assert_eq!((r.status, r.header("location")), (303, Some("/models")), "{}", r.text());
    let set = session_cookie(&r).unwrap();
    let (pair, attributes) = set.split_once(';').unwrap();
    let secret = pair.strip_prefix("flotilla_session=").expect(set);
    assert!(secret.len() >= 40 && secret.bytes().all(|b| b.is_ascii_alphanumeric()), "{set}");
    let mut attributes: Vec<&str> = attributes.split(';').map(str::trim).collect();
    attributes.sort();
    assert_eq!(attributes, ["HttpOnly", "Path=/", "SameSite=Lax"], "no Secure over plain HTTP: {set}");
    assert!(!server.log_text().contains(secret), "the session secret is never logged");

    let cookie = pair.to_string();
    let page = server.request("GET", "/models", &[("Cookie", &cookie)], b"");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Signed in as <strong class=\"user\">admin</strong>"), "{}", page.text());
    assert_eq!(page.header("cache-control"), Some("private, no-store"), "no cache keeps a signed-in page");
    assert!(alive(&server, &cookie), "the cookie works on the JSON routes the UI calls");
    assert!(!alive(&server, "flotilla_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}

#[test]
fn next_never_leaves_the_server_and_login_csrf_is_refused() {
    let server = basic_server();
    let creds = [("username", "admin"), ("password", ADMIN_PASSWORD)];
    for (next, to) in [
        ("/families?x=1", "/families?x=1"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ] {
        let mut pairs = creds.to_vec();
        pairs.push(("next", next));
        let r = post_form(&server, "/login", &[], &pairs);
        assert_eq!((r.status, r.header("location")), (303, Some(to)), "{next}");
        let form = server
            .get(&format!("/login?next={}", form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()));
        assert!(form.text().contains(&format!(r#"name="next" value="{}""#, to.replace('&', "&amp;"))), "{next}");
    }
    // A login form posted from another site (login CSRF) is refused.
    for header in [("Origin", "http://evil.example"), ("Origin", "null"), ("Sec-Fetch-Site", "cross-site")] {
        let r = post_form(&server, "/login", &[header], &creds);
        assert_eq!(r.status, 403, "{header:?}");
        assert_eq!(session_cookie(&r), None, "{header:?}");
    }
    let host = server.host();
    let origin = format!("http://{host}");
    let r = post_form(&server, "/login", &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")], &creds);
    assert_eq!(r.status, 303, "{}", r.text());
}

#[test]
fn csrf_is_bound_to_the_session() {
    let server = basic_server();
    admin_json(&server, "POST", "/api/2.0/mlflow/registered-models/create", &json!({ "name": "m" }));
    admin_json(
        &server,
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        &json!({ "name": "m", "source": "mlflow-artifacts:/0/m" }),
    );
    let cookie = login(&server, "admin", ADMIN_PASSWORD);
    let token = csrf_of(&server, &cookie);
    let other = csrf_of(&server, &login(&server, "admin", ADMIN_PASSWORD));
    assert_ne!(token, other);

    // A JSON route the browser calls: the token in x-csrf-token.
    let create = |name: &str, csrf: Option<&str>| {
        let mut headers = vec![("Cookie", cookie.as_str()), ("Content-Type", "application/json")];
        if let Some(t) = csrf {
            headers.push(("x-csrf-token", t));
        }
        server.request(
            "POST",
            "/api/2.0/mlflow/experiments/create",
            &headers,
            json!({ "name": name }).to_string().as_bytes(),
        )
    };
    for csrf in [None, Some(""), Some("0".repeat(64).as_str()), Some(other.as_str())] {
        let r = create("e1", csrf);
        assert_eq!((r.status, r.error_code().as_str()), (403, "PERMISSION_DENIED"), "{csrf:?}: {}", r.text());
    }
    assert_eq!(create("e1", Some(&token)).status, 200);
    // A form posted cross-site to a JSON route cannot carry the token either.
    let r = post_form(&server, "/api/2.0/mlflow/experiments/create", &[("Cookie", &cookie)], &[("name", "e2")]);
    assert_eq!((r.status, r.error_code().as_str()), (403, "PERMISSION_DENIED"));
    // V2 answers in its own shape.
    let r = server.request("POST", "/v2/repository/models/m/load", &[("Cookie", &cookie)], b"");
    assert_eq!(r.status, 403);
    assert!(r.json()["error"].as_str().unwrap().contains("CSRF"), "{}", r.text());
    // Basic needs no token: a browser never sends it on its own.
    admin_json(&server, "POST", "/api/2.0/mlflow/experiments/create", &json!({ "name": "e3" }));

    // The UI's own form: the token in its csrf field.
    let alias = |csrf: &str| {
        post_form(
            &server,
            "/models/m/aliases",
            &[("Cookie", &cookie)],
            &[("csrf", csrf), ("alias", "champion"), ("version", "1")],
        )
    };
    for bad in ["", other.as_str()] {
        let r = alias(bad);
        assert_eq!(r.status, 403, "{bad}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    let r = alias(&token);
    assert_eq!((r.status, r.header("location")), (303, Some("/models/m")), "{}", r.text());
    let got = admin_json(&server, "GET", "/api/2.0/mlflow/registered-models/alias?name=m&alias=champion", &json!({}));
    assert_eq!(got["model_version"]["version"], "1");
    let audit = admin_json(&server, "GET", "/api/fleet/v1/audit?model=m", &json!({}));
    assert!(audit.to_string().contains("\"admin\""), "the session's user is the actor: {audit}");
}

#[test]
fn sessions_end_on_logout_a_new_password_and_the_users_deletion() {
    let server = basic_server();
    admin_json(
        &server,
        "POST",
        "/api/2.0/mlflow/users/create",
        &json!({ "username": "bob", "password": "bob-password-1" }),
    );
    let first = login(&server, "bob", "bob-password-1");
    let second = login(&server, "bob", "bob-password-1");
    assert!(alive(&server, &first) && alive(&server, &second));

    // Logout needs the session's token, ends that session only, and forgets the cookie.
    let r = post_form(&server, "/logout", &[("Cookie", &first)], &[("csrf", "nope")]);
    assert_eq!(r.status, 403);
    assert!(alive(&server, &first));
    let token = csrf_of(&server, &first);
    let r = post_form(&server, "/logout", &[("Cookie", &first)], &[("csrf", &token)]);
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    assert!(session_cookie(&r).unwrap().contains("Max-Age=0"), "{:?}", session_cookie(&r));
    assert!(!alive(&server, &first), "logged out");
    let r = server.request("GET", "/models", &[("Cookie", &first)], b"");
    assert_eq!((r.status, r.header("location")), (303, Some("/login?next=%2Fmodels")));
    assert!(alive(&server, &second), "the other session lives");

    // A new password ends every session of the user.
    admin_json(
        &server,
        "PATCH",
        "/api/2.0/mlflow/users/update-password",
        &json!({ "username": "bob", "password": "bob-password-2" }),
    );
    assert!(!alive(&server, &second), "ended by the new password");
    let r = post_form(&server, "/login", &[], &[("username", "bob"), ("password", "bob-password-1")]);
    assert_eq!(r.status, 401);

    // Deleting the user ends theirs too.
    let third = login(&server, "bob", "bob-password-2");
    assert!(alive(&server, &third));
    admin_json(&server, "DELETE", "/api/2.0/mlflow/users/delete", &json!({ "username": "bob" }));
    assert!(!alive(&server, &third), "ended with the user");
}

#[test]
fn the_cookie_is_secure_when_the_server_is_reached_over_tls() {
    let server = TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_SECURE_COOKIES", "true"),
    );
    let r = post_form(&server, "/login", &[], &[("username", "admin"), ("password", ADMIN_PASSWORD)]);
    assert_eq!(r.status, 303);
    assert!(session_cookie(&r).unwrap().split(';').any(|a| a.trim() == "Secure"), "{:?}", session_cookie(&r));
}

/// A login's own write (its session) is audited under the user who logged
/// in, not as an anonymous request.
#[test]
fn a_login_is_audited_under_its_user() {
    let server = basic_server();
    let body = json!({ "username": "dana", "password": "dana-password-1" });
    admin_json(&server, "POST", "/api/2.0/mlflow/users/create", &body);
    login(&server, "dana", "dana-password-1");
    let events = admin_json(&server, "GET", "/api/fleet/v1/audit/events?actor=dana", &json!({}));
    let logins: Vec<_> =
        events["events"].as_array().unwrap().iter().filter(|e| e["action"] == "session.create").collect();
    assert_eq!(logins.len(), 1, "{events}");
    assert_eq!(logins[0]["method"], "session", "{events}");
    let anonymous = admin_json(&server, "GET", "/api/fleet/v1/audit/events?actor=anonymous", &json!({}));
    assert_eq!(anonymous["events"].as_array().map(Vec::len), Some(0), "{anonymous}");
}
