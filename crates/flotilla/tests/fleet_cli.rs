//! `flotilla fleet ... --server URL` against a real server: the commands
//! answer through the fleet API exactly as they do on the data directory's
//! store, and the server's errors become the CLI's exit codes.

use std::process::{Command, Output};

use serde_json::{Value, json};

use flotilla_testkit::{TestServer, options};

/// Runs `flotilla fleet <args>` on the server's data directory, or through
/// the server with `--server`.
fn fleet(server: &TestServer, through_server: bool, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.arg("fleet").args(args).env_remove("FLOTILLA_SERVER").env_remove("FLOTILLA_DATA_DIR");
    if through_server {
        cmd.args(["--server", &format!("http://{}", server.host())]);
    } else {
        cmd.args(["--data-dir", &server.data_dir().display().to_string()]);
    }
    cmd.output().expect("running flotilla fleet")
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

/// A family `demand` (region) with three models; `demand.region=west` has a
/// champion and a better newer version, `demand.region=east` none.
fn demand_family(server: &TestServer) {
    let r = server.post_json("/api/fleet/v1/families", &json!({ "name": "demand", "levels": ["region"] }));
    assert_eq!(r.status, 200, "{}", r.text());
    let version = |partition: &str, rmse: f64, aliases: &[&str]| {
        json!({ "family": "demand", "partition": partition, "source": "mlflow-artifacts:/m",
                "metrics": [["val_rmse", rmse]], "aliases": aliases, "tags": [["owner", "ana"]] })
    };
    let versions = json!({ "versions": [
        version("", 3.0, &["champion"]),
        version("region=west", 3.0, &["champion"]),
        version("region=west", 2.0, &[]),
        version("region=east", 4.0, &[]),
    ]});
    let r = server.post_json("/api/fleet/v1/versions/bulk", &versions);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn server_mode_answers_as_the_data_directory_does() {
    let server = TestServer::start(options!());
    demand_family(&server);
    let searches: [&[&str]; 4] = [
        &["search", "--json", "--family", "demand"],
        &["search", "--json", "--family", "demand", "--alias", "champion", "--metric", "champion:val_rmse<3.5"],
        &["search", "--json", "--partition", "region=west", "--order-by=-created", "--limit", "1"],
        &["search", "--json", "--versions", "--family", "demand", "--metric", "val_rmse<3.5"],
    ];
    for args in searches {
        let local = json_of(&fleet(&server, false, args));
        assert_eq!(json_of(&fleet(&server, true, args)), local, "{args:?}");
        let items = if args.contains(&"--versions") { &local["versions"] } else { &local["models"] };
        assert!(items.as_array().is_some_and(|items| !items.is_empty()), "{args:?}: {local}");
    }
    let dry_run = ["promote", "--json", "--family", "demand", "--metric", "val_rmse", "--dry-run"];
    let local = json_of(&fleet(&server, false, &dry_run));
    assert_eq!(json_of(&fleet(&server, true, &dry_run)), local);
    assert_eq!(local["moves"].as_array().map(Vec::len), Some(2), "{local}");
    for args in [&["families", "--json"][..], &["audit", "--json"]] {
        assert_eq!(json_of(&fleet(&server, true, args)), json_of(&fleet(&server, false, args)), "{args:?}");
    }
    // Tables print the same too.
    let table = ["search", "--family", "demand"];
    assert_eq!(fleet(&server, true, &table).stdout, fleet(&server, false, &table).stdout);
}

#[test]
fn server_mode_changes_aliases_as_the_actor_and_keeps_exit_codes() {
    let server = TestServer::start(options!());
    demand_family(&server);
    let promote = ["promote", "--json", "--family", "demand", "--metric", "val_rmse", "--actor", "ana"];
    let report = json_of(&fleet(&server, true, &promote));
    let batch = report["batch_id"].as_i64().expect("a batch");
    let audit = json_of(&fleet(&server, true, &["audit", "--json", "--batch", &batch.to_string()]));
    assert_eq!(audit[0]["actor"], "ana", "{audit}");
    let rollback = json_of(&fleet(&server, true, &["rollback", "--json", &batch.to_string(), "--actor", "ana"]));
    assert_eq!(rollback["moves"].as_array().map(Vec::len), report["moves"].as_array().map(Vec::len));
    // Not found (3) and invalid (2), as on the data directory.
    for (args, code) in [
        (&["promote", "--family", "nope", "--metric", "val_rmse", "--dry-run"][..], 3),
        (&["search", "--order-by", "size"], 2),
        (&["rollback", "999999"], 3),
    ] {
        let local = fleet(&server, false, args).status.code();
        assert_eq!((fleet(&server, true, args).status.code(), local), (Some(code), Some(code)), "{args:?}");
    }
}
