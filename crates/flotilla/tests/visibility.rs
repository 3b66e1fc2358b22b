//! Row-level visibility for non-admins on a real server process (`--auth
//! basic`): the fleet API's searches, facets and family list, the UI's
//! lists (HTML) and the MLflow registered-model search show exactly the rows
//! the caller may read, across pages; a family's creator manages it.

use flotilla_testkit::{Requester, TestServer, options};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "user-password-12";
const FAMILIES: [&str; 3] = ["f0", "f1", "f2"];
const STORES: usize = 5;

/// Every name a paged JSON search returns, following its tokens; pages
/// before the last are full.
fn all_pages(client: &Requester, path: &str, list: &str, key: &str, size: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page = client.ok("GET", &format!("{path}{sep}max_results={size}&page_token={token}"), None);
        let got = names(&page, list, key);
        let next = page["next_page_token"].as_str().filter(|t| !t.is_empty());
        assert!(got.len() == size || next.is_none(), "a short page before the last: {page}");
        seen.extend(got);
        match next {
            Some(t) => token = t.to_string(),
            None => return seen,
        }
    }
}

/// Every model the UI's `/models` lists, following its pager.
fn ui_models(client: &Requester, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = format!("/models?max_results=2{query}");
    loop {
        let html = client.page(&path);
        let list = &html[html.find("<tbody>").map_or(html.len(), |i| i)..];
        for cell in list.split("<td><a href=\"/models/").skip(1) {
            let text = &cell[cell.find('>').unwrap() + 1..cell.find("</a>").unwrap()];
            seen.push(text.to_string());
        }
        let Some(end) = html.find("\" rel=\"next\"") else { return seen };
        let start = html[..end].rfind("href=\"").unwrap() + 6;
        path = html[start..end].replace("&amp;", "&");
    }
}

fn names(v: &Value, list: &str, key: &str) -> Vec<String> {
    v[list].as_array().map_or(vec![], |l| l.iter().map(|m| m[key].as_str().unwrap().to_string()).collect())
}

fn server(default: &str) -> TestServer {
    TestServer::start(
        options!()
            .env("FLOTILLA_AUTH", "basic")
            .env("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FLOTILLA_DEFAULT_PERMISSION", default),
    )
}

fn admin(server: &TestServer) -> Requester<'_> {
    Requester::basic(server, "admin", ADMIN_PASSWORD)
}

fn user<'a>(server: &'a TestServer, name: &str) -> Requester<'a> {
    let body = json!({ "username": name, "password": PASSWORD });
    admin(server).ok("POST", "/api/2.0/mlflow/users/create", Some(body));
    Requester::basic(server, name, PASSWORD)
}

fn grant(server: &TestServer, username: &str, kind: &str, id: &str, level: &str) {
    let body = json!({ "username": username, "resource_type": kind, "resource_id": id, "permission": level });
    admin(server).ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(body));
}

/// Three families of a default and five stores each (one version apiece),
/// a model outside every family, an experiment: 3 × 6 + 1 models.
fn fleet(server: &TestServer) -> Vec<String> {
    let a = admin(server);
    let mut models = vec!["loose".to_string()];
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "loose" })));
    a.ok("POST", "/api/2.0/mlflow/experiments/create", Some(json!({ "name": "admins" })));
    for f in FAMILIES {
        a.ok("POST", "/api/fleet/v1/families", Some(json!({ "name": f, "levels": ["store"] })));
        models.push(f.to_string());
        let versions: Vec<Value> = (0..STORES)
            .map(|i| json!({ "family": f, "partition": format!("store=s{i:02}"), "source": "mlflow-artifacts:/m", "aliases": ["champion"], "metrics": [["val_rmse", 1.0 + i as f64]] }))
            .collect();
        a.ok("POST", "/api/fleet/v1/versions/bulk", Some(json!({ "versions": versions })));
        models.extend((0..STORES).map(|i| format!("{f}.store=s{i:02}")));
    }
    models.sort();
    models
}

fn members(f: &str) -> Vec<String> {
    let mut m = vec![f.to_string()];
    m.extend((0..STORES).map(|i| format!("{f}.store=s{i:02}")));
    m
}

#[test]
fn a_grant_on_one_family_shows_exactly_that_family() {
    let server = server("NO_PERMISSIONS");
    let a = admin(&server);
    let everything = fleet(&server);
    let ann = user(&server, "ann");
    grant(&server, "ann", "family", "f1", "READ");
    let f1 = members("f1");

    // The fleet search, in pages of two, and the admin's for contrast.
    assert_eq!(all_pages(&ann, "/api/fleet/v1/models", "models", "name", 2), f1);
    assert_eq!(all_pages(&a, "/api/fleet/v1/models", "models", "name", 4), everything);
    // Filtered (a partition value every family has) and sorted otherwise.
    let found = ann.ok("GET", "/api/fleet/v1/models?partition=store%3Ds01&order_by=-created", None);
    assert_eq!(names(&found, "models", "name"), ["f1.store=s01"]);
    let named = ann.ok("GET", "/api/fleet/v1/models?family=f0", None);
    assert_eq!(names(&named, "models", "name"), Vec::<String>::new(), "a family she may not read: nothing");
    // Versions.
    let versions = all_pages(&ann, "/api/fleet/v1/versions", "versions", "model", 3);
    assert_eq!(versions.len(), STORES, "{versions:?}");
    assert!(versions.iter().all(|m| m.starts_with("f1.")), "{versions:?}");

    // Facets: from the counters (unfiltered) and counted (filtered).
    let facets = ann.ok("GET", "/api/fleet/v1/facets", None);
    assert_eq!(facets["total"], 6, "{facets}");
    assert_eq!(facets["families"], json!([{ "value": "f1", "count": 6 }]), "{facets}");
    assert_eq!(facets["aliases"], json!([{ "value": "champion", "count": STORES }]), "{facets}");
    let filtered = ann.ok("GET", "/api/fleet/v1/facets?alias=champion", None);
    assert_eq!(filtered["total"], STORES, "{filtered}");
    assert_eq!(filtered["families"], json!([{ "value": "f1", "count": STORES }]), "{filtered}");
    assert_eq!(ann.ok("GET", "/api/fleet/v1/facets?family=f2", None)["total"], 0);
    assert_eq!(a.ok("GET", "/api/fleet/v1/facets", None)["total"], everything.len());

    // The family list.
    assert_eq!(all_pages(&ann, "/api/fleet/v1/families", "families", "name", 1), ["f1"]);
    assert_eq!(all_pages(&a, "/api/fleet/v1/families", "families", "name", 2), FAMILIES);

    // MLflow's search, with the clause the mlflow 3 client appends.
    let prompt = "filter=tags.%60mlflow.prompt.is_prompt%60%20!%3D%20%27true%27";
    let path = format!("/api/2.0/mlflow/registered-models/search?{prompt}");
    assert_eq!(all_pages(&ann, &path, "registered_models", "name", 4), f1);

    // The UI's lists (HTML), across pages.
    assert_eq!(ui_models(&ann, ""), f1);
    assert_eq!(ui_models(&ann, "&alias=champion"), &f1[1..]);
    assert_eq!(ui_models(&a, "").len(), everything.len());
    let families = ann.page("/families");
    assert!(families.contains("href=\"/families/f1\"") && !families.contains("href=\"/families/f0\""), "{families}");
    let home = ann.page("/");
    assert!(home.contains("href=\"/families/f1\"") && !home.contains("href=\"/families/f2\""), "{home}");
    assert!(!home.contains("Recent alias changes"), "the alias log names models she may not read");
    let experiments = ann.page("/experiments");
    assert!(experiments.contains("No experiments.") && !experiments.contains("admins"), "{experiments}");
    assert!(a.page("/experiments").contains("admins"));
    // Pages of a family she may not read stay refused.
    assert_eq!(ann.status("GET", "/families/f0", None), 403);
    assert_eq!(ann.status("GET", "/models/f0.store=s00", None), 403);
}

#[test]
fn a_veto_under_a_readable_default_hides_its_rows() {
    let server = server("READ");
    let a = admin(&server);
    let everything = fleet(&server);
    let bob = user(&server, "bob");
    grant(&server, "bob", "family", "f0", "DENY");
    let expected: Vec<String> = everything.iter().filter(|m| !m.starts_with("f0")).cloned().collect();
    assert_eq!(all_pages(&bob, "/api/fleet/v1/models", "models", "name", 3), expected);
    // Whole families: the registry's counters less the vetoed family's.
    let facets = bob.ok("GET", "/api/fleet/v1/facets", None);
    assert_eq!(facets["total"], expected.len(), "{facets}");
    assert_eq!(facets["aliases"], json!([{ "value": "champion", "count": 2 * STORES }]), "{facets}");
    assert!(!facets["families"].to_string().contains("f0"), "{facets}");
    assert_eq!(all_pages(&bob, "/api/fleet/v1/families", "families", "name", 1), ["f1", "f2"]);
    assert_eq!(ui_models(&bob, ""), expected);

    // A veto on one model besides: counted from the matches.
    grant(&server, "bob", "registered_model", "f1.store=s03", "DENY");
    let expected: Vec<String> = expected.into_iter().filter(|m| m != "f1.store=s03").collect();
    assert_eq!(all_pages(&bob, "/api/fleet/v1/models", "models", "name", 3), expected);
    let facets = bob.ok("GET", "/api/fleet/v1/facets", None);
    assert_eq!(facets["total"], expected.len(), "{facets}");
    assert_eq!(facets["aliases"], json!([{ "value": "champion", "count": 2 * STORES - 1 }]), "{facets}");
    let prompt = "filter=tags.%60mlflow.prompt.is_prompt%60%20!%3D%20%27true%27";
    let path = format!("/api/2.0/mlflow/registered-models/search?{prompt}");
    assert_eq!(all_pages(&bob, &path, "registered_models", "name", 5), expected);
    assert_eq!(ui_models(&bob, "&alias=champion").len(), 2 * STORES - 1);
    let family = bob.page("/families/f1");
    assert!(family.contains(">f1.store=s02<") && !family.contains(">f1.store=s03<"), "{family}");
    // The family's histogram counts the champions she may read, not the vetoed one.
    let counted = |html: &str| html.contains(&format!(">{} champions", STORES - 1)) as u8;
    assert_eq!(counted(&bob.page("/families/f1?key=val_rmse")), 1, "{}", bob.page("/families/f1?key=val_rmse"));
    assert!(a.page("/families/f1?key=val_rmse").contains(&format!(">{STORES} champions")));
    assert_eq!(all_pages(&a, "/api/fleet/v1/models", "models", "name", 50), everything);
}

#[test]
fn any_user_may_create_a_family_and_manages_it() {
    let server = server("NO_PERMISSIONS");
    let a = admin(&server);
    let cat = user(&server, "cat");
    let dan = user(&server, "dan");
    a.ok("POST", "/api/2.0/mlflow/registered-models/create", Some(json!({ "name": "taken" })));
    let created = cat.ok("POST", "/api/fleet/v1/families", Some(json!({ "name": "cf", "levels": ["store"] })));
    assert_eq!(created["family"]["name"], "cf");
    assert_eq!(all_pages(&cat, "/api/fleet/v1/families", "families", "name", 10), ["cf"]);
    // MANAGE: register members, read them, share the family.
    let versions = json!({ "versions": [{ "family": "cf", "partition": "store=a", "source": "mlflow-artifacts:/m" }] });
    cat.ok("POST", "/api/fleet/v1/versions/bulk", Some(versions.clone()));
    assert_eq!(all_pages(&cat, "/api/fleet/v1/models", "models", "name", 10), ["cf", "cf.store=a"]);
    assert_eq!(all_pages(&dan, "/api/fleet/v1/models", "models", "name", 10), Vec::<String>::new());
    assert_eq!(dan.status("POST", "/api/fleet/v1/versions/bulk", Some(versions.clone())), 403);
    let share = json!({ "username": "dan", "resource_type": "family", "resource_id": "cf", "permission": "READ" });
    cat.ok("POST", "/api/3.0/mlflow/users/permissions/grant", Some(share));
    assert_eq!(all_pages(&dan, "/api/fleet/v1/models", "models", "name", 10), ["cf", "cf.store=a"]);
    assert_eq!(dan.status("POST", "/api/fleet/v1/versions/bulk", Some(versions.clone())), 403, "READ is not EDIT");
    // (MLflow 3's grant is insert-only: revoke, then grant.)
    let revoke = json!({ "username": "dan", "resource_type": "family", "resource_id": "cf" });
    cat.ok("POST", "/api/3.0/mlflow/users/permissions/revoke", Some(revoke));
    grant(&server, "dan", "family", "cf", "EDIT");
    dan.ok("POST", "/api/fleet/v1/versions/bulk", Some(versions));
    // Adopting a model the creator may not manage, or a vetoed name, is refused.
    let r = cat.call("POST", "/api/fleet/v1/families", Some(json!({ "name": "taken", "levels": ["x"] })));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error_code"], "PERMISSION_DENIED");
    grant(&server, "cat", "family", "vetoed", "DENY");
    assert_eq!(cat.status("POST", "/api/fleet/v1/families", Some(json!({ "name": "vetoed", "levels": ["x"] }))), 403);
    assert_eq!(all_pages(&a, "/api/fleet/v1/families", "families", "name", 10), ["cf"]);
}
