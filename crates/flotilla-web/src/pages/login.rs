//! Login and logout (`--auth basic`): the form posts a user and password,
//! verified as Basic is (Argon2 under the same semaphore, one message for an
//! unknown user and a wrong password); a success sets the session cookie and
//! goes back to `next`, which must be a path of this server (no open
//! redirect). Login CSRF: the form must be posted from this server's own
//! pages (`Origin` and `Sec-Fetch-Site`). Logout ends the session in the
//! store (every replica) and forgets the cookie; the session middleware has
//! checked its CSRF token already.

use axum::Form;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use flotilla_app::AppState;
use flotilla_app::auth::{SESSION_COOKIE, UiSession, clear_cookie, set_cookie};
use flotilla_core::ErrorKind;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::csrf;
use crate::layout::{PageError, PageResult};

/// The one message of a failed login, whatever failed.
const REFUSED: &str = "Incorrect user name or password.";

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// `next` if it is a path on this server, else the home page: it must start
/// with one `/`, and hold no backslash or control character (browsers read
/// `//host`, `/\host` and `/\t/host` as other hosts).
pub fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && !next.starts_with("/login")
        && !next.starts_with("/logout");
    if local { next } else { "/" }
}

fn no_auth() -> PageError {
    PageError { kind: ErrorKind::NotFound, message: "Authentication is off on this server: there is no login.".into() }
}

pub async fn form(State(s): State<AppState>, Query(q): Query<NextQuery>) -> PageResult<Response> {
    s.auth.as_ref().ok_or_else(no_auth)?;
    Ok(render(StatusCode::OK, "", local_path(&q.next), None))
}

pub async fn login(State(s): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> PageResult<Response> {
    let auth = s.auth.clone().ok_or_else(no_auth)?;
    let next = local_path(&form.next).to_string();
    if let Err(why) = from_this_site(&headers) {
        return Ok(render(StatusCode::FORBIDDEN, &form.username, &next, Some(why)));
    }
    match auth.login(form.username.clone(), form.password).await {
        Ok(new) => {
            let mut response = Redirect::to(&next).into_response();
            let cookie = HeaderValue::from_str(&set_cookie(&new.secret, auth.secure_cookies()))
                .map_err(|_| PageError::bad_request("the session cookie could not be set"))?;
            response.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(e) if e.kind == ErrorKind::Unauthenticated => {
            Ok(render(StatusCode::UNAUTHORIZED, &form.username, &next, Some(REFUSED)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Login CSRF: a browser says where a form was posted from; refuse another
/// site's page (a client that says nothing is no browser an attacker drives).
fn from_this_site(headers: &HeaderMap) -> Result<(), &'static str> {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| !matches!(s, "same-origin" | "none")) {
        return Err("The login form was sent from another site.");
    }
    csrf::same_origin(headers).map_err(|_| "The login form was sent from another site.")
}

pub async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    session: Option<Extension<UiSession>>,
) -> PageResult<Response> {
    let auth = s.auth.clone().ok_or_else(no_auth)?;
    let secret = cookie(&headers, SESSION_COOKIE);
    if let (Some(_), Some(secret)) = (session, secret) {
        auth.logout(&secret).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(clear) = HeaderValue::from_str(&clear_cookie(auth.secure_cookies())) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let values = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    flotilla_app::auth::cookie_value(values, name).map(str::to_string)
}

fn render(status: StatusCode, username: &str, next: &str, error: Option<&str>) -> Response {
    let markup: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · flotilla" }
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                header.top { span.brand { "flotilla" } }
                main.login {
                    h1 { "Sign in" }
                    @if let Some(error) = error {
                        p.error role="alert" { (error) }
                    }
                    form method="post" action="/login" {
                        input type="hidden" name="next" value=(next);
                        label { "User name" input type="text" name="username" value=(username) autocomplete="username" required autofocus; }
                        label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                        button type="submit" { "Sign in" }
                    }
                }
            }
        }
    };
    let mut response = (status, markup).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path_or_home() {
        for (next, to) in [
            ("/models/x?y=1", "/models/x?y=1"),
            ("/", "/"),
            ("", "/"),
            ("//evil.example", "/"),
            ("/\\evil.example", "/"),
            ("/\t/evil.example", "/"),
            ("https://evil.example/", "/"),
            ("javascript:alert(1)", "/"),
            ("evil.example", "/"),
            ("/login?next=//evil.example", "/"),
        ] {
            assert_eq!(local_path(next), to, "{next:?}");
        }
    }
}
