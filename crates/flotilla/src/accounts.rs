//! `flotilla user ...` and `flotilla token ...`: managing users and API tokens
//! directly on a data directory's store (or a PostgreSQL database's,
//! `--database`), through the same application-layer
//! calls the HTTP routes make (whoever can open the data directory could edit
//! the database, so the CLI acts as an admin, `Caller::local`), or with
//! `--server` through a running server's user and token routes, as the user
//! the `MLFLOW_TRACKING_*` credentials name.

use std::io::BufRead;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use flotilla_app::auth::{Authenticator, Caller, NewTokenRequest, TokenScope};
use hyper::Method;
use serde_json::{Value, json};

use crate::fleet::remote::Remote;
use crate::local_store::StoreLocation;

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// Go through this running server (e.g. `http://127.0.0.1:5000`) with the
    /// MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN credentials.
    #[arg(long, env = "FLOTILLA_SERVER", global = true)]
    pub server: Option<String>,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user. The password is read from stdin with --password-stdin,
    /// else generated and printed once.
    Create {
        username: String,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Delete a user with their tokens and grants.
    Delete { username: String },
    /// Set a user's password (from stdin with --password-stdin, else generated and printed once).
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Make a user an admin (`true`) or not (`false`).
    SetAdmin {
        username: String,
        #[arg(action = clap::ArgAction::Set)]
        is_admin: bool,
    },
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// Go through this running server (e.g. `http://127.0.0.1:5000`) with the
    /// MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN credentials.
    #[arg(long, env = "FLOTILLA_SERVER", global = true)]
    pub server: Option<String>,
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token for a user (yourself with --server, by default); the
    /// token is printed once (only its hash is kept).
    Create {
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
        /// `read` (reads and searches only) or `write` (the user's full rights).
        #[arg(long, default_value = "read")]
        scope: String,
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List tokens (never their secrets), optionally one user's.
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by its id (the 8 characters after `flt_`).
    Revoke { id: String },
}

fn open(location: &StoreLocation) -> anyhow::Result<Arc<Authenticator>> {
    Ok(Arc::new(Authenticator::new(location.open("run `flotilla server` first")?)))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

/// A password from the first line of stdin, or a generated one (printed).
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
    } else {
        Ok((flotilla_app::auth::one_time_password(), true))
    }
}

pub fn run_user(args: UserArgs) -> anyhow::Result<()> {
    if let Some(url) = &args.server {
        return remote_user(&Remote::new(url)?, args.command);
    }
    let auth = open(&args.store)?;
    let me = Caller::local();
    runtime()?.block_on(async {
        match args.command {
            UserCommand::Create { username, admin, password_stdin } => {
                let (password, generated) = password(password_stdin)?;
                let user = auth.create_user(&me, username.clone(), password.clone()).await?;
                if admin {
                    auth.update_admin(&me, username.clone(), true).await?;
                }
                println!("created user {} (id {}{})", user.username, user.id, if admin { ", admin" } else { "" });
                if generated {
                    println!("password (shown once): {password}");
                }
            }
            UserCommand::List => {
                for u in auth.list_users(&me).await? {
                    println!("{}\t{}\t{}", u.id, u.username, if u.is_admin { "admin" } else { "" });
                }
            }
            UserCommand::Delete { username } => {
                auth.delete_user(&me, username.clone()).await?;
                println!("deleted user {username}");
            }
            UserCommand::SetPassword { username, password_stdin } => {
                let (password, generated) = password(password_stdin)?;
                auth.update_password(&me, username.clone(), password.clone(), None).await?;
                println!("password of {username} changed");
                if generated {
                    println!("password (shown once): {password}");
                }
            }
            UserCommand::SetAdmin { username, is_admin } => {
                auth.update_admin(&me, username.clone(), is_admin).await?;
                println!("{username}: admin = {is_admin}");
            }
        }
        Ok(())
    })
}

pub fn run_token(args: TokenArgs) -> anyhow::Result<()> {
    if let Some(url) = &args.server {
        return remote_token(&Remote::new(url)?, args.command);
    }
    let auth = open(&args.store)?;
    let me = Caller::local();
    runtime()?.block_on(async {
        match args.command {
            TokenCommand::Create { user, name, scope, expires_in_days } => {
                let scope = TokenScope::parse(&scope).ok_or_else(|| {
                    flotilla_core::Error::invalid(format!("--scope must be read or write, got {scope}"))
                })?;
                let user = user.ok_or_else(|| flotilla_core::Error::invalid("name the token's owner with --user"))?;
                let request = NewTokenRequest { owner: Some(user), name, scope, expires_in_days };
                let (plaintext, token) = auth.create_token(&me, request).await?;
                println!("{plaintext}");
                eprintln!(
                    "token {} for {} ({}), shown once; use it as MLFLOW_TRACKING_TOKEN",
                    token.id,
                    token.username,
                    token.scope.as_str()
                );
            }
            TokenCommand::List { user } => {
                for t in auth.list_tokens(&me, true).await? {
                    if user.as_ref().is_some_and(|u| *u != t.username) {
                        continue;
                    }
                    let state = if t.revoked_at.is_some() { "revoked" } else { "active" };
                    println!(
                        "{}\t{}\t{}\t{}\t{}\texpires_at={}",
                        t.id,
                        t.username,
                        t.scope.as_str(),
                        state,
                        t.name,
                        t.expires_at
                    );
                }
            }
            TokenCommand::Revoke { id } => {
                auth.revoke_token(&me, id.clone()).await?;
                println!("revoked token {id}");
            }
        }
        Ok(())
    })
}

const USERS: &str = "/api/2.0/mlflow/users";
const TOKENS: &str = "/api/fleet/v1/tokens";

fn remote_user(server: &Remote, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create { username, admin, password_stdin } => {
            let (password, generated) = password(password_stdin)?;
            let body = json!({ "username": username, "password": password });
            let user = server.json(Method::POST, &format!("{USERS}/create"), Some(&body))?;
            if admin {
                let body = json!({ "username": username, "is_admin": true });
                server.json(Method::PATCH, &format!("{USERS}/update-admin"), Some(&body))?;
            }
            println!("created user {username} (id {}{})", user["user"]["id"], if admin { ", admin" } else { "" });
            if generated {
                println!("password (shown once): {password}");
            }
        }
        UserCommand::List => {
            let users = server.json(Method::GET, &format!("{USERS}/list"), None)?;
            for u in users["users"].as_array().into_iter().flatten() {
                let admin = if u["is_admin"] == true { "admin" } else { "" };
                println!("{}\t{}\t{admin}", u["id"], u["username"].as_str().unwrap_or_default());
            }
        }
        UserCommand::Delete { username } => {
            server.json(Method::DELETE, &format!("{USERS}/delete"), Some(&json!({ "username": username })))?;
            println!("deleted user {username}");
        }
        UserCommand::SetPassword { username, password_stdin } => {
            let (password, generated) = password(password_stdin)?;
            let body = json!({ "username": username, "password": password });
            server.json(Method::PATCH, &format!("{USERS}/update-password"), Some(&body))?;
            println!("password of {username} changed");
            if generated {
                println!("password (shown once): {password}");
            }
        }
        UserCommand::SetAdmin { username, is_admin } => {
            let body = json!({ "username": username, "is_admin": is_admin });
            server.json(Method::PATCH, &format!("{USERS}/update-admin"), Some(&body))?;
            println!("{username}: admin = {is_admin}");
        }
    }
    Ok(())
}

fn remote_token(server: &Remote, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { user, name, scope, expires_in_days } => {
            let body = json!({ "user": user, "name": name, "scope": scope, "expires_in_days": expires_in_days });
            let answer = server.json(Method::POST, TOKENS, Some(&body))?;
            println!("{}", answer["token"].as_str().unwrap_or_default());
            let info = &answer["info"];
            eprintln!(
                "token {} for {} ({}), shown once; use it as MLFLOW_TRACKING_TOKEN",
                info["id"].as_str().unwrap_or_default(),
                info["user"].as_str().unwrap_or_default(),
                info["scope"].as_str().unwrap_or_default()
            );
        }
        TokenCommand::List { user } => {
            // Another user's tokens need an admin's `all`.
            let path = if user.is_some() { format!("{TOKENS}?all=true") } else { TOKENS.to_string() };
            let answer = server.json(Method::GET, &path, None)?;
            for t in answer["tokens"].as_array().into_iter().flatten() {
                let text = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                if user.as_ref().is_some_and(|u| *u != text("user")) {
                    continue;
                }
                let state = if t["revoked_at"].is_null() { "active" } else { "revoked" };
                println!(
                    "{}\t{}\t{}\t{state}\t{}\texpires_at={}",
                    text("id"),
                    text("user"),
                    text("scope"),
                    text("name"),
                    t["expires_at"]
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
            server.json(Method::DELETE, &format!("{TOKENS}/{id}"), None::<&Value>)?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}
