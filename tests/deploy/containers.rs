//! The Dockerfile and the compose files, checked without a Docker engine: `docker-compose
//! config` (Debian's docker-compose, installed by scripts/test-env.sh) validates and resolves
//! the compose files, and every command, flag, environment variable and port they name is
//! looked up in the binary's own `--help`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_yaml_ng::Value;

use crate::cli::{self, Help, repo_root};

/// Variables the containers set that duckhaul does not read itself but a library it uses does.
pub(crate) const LIBRARY_ENV: [&str; 1] = [
    // google-cloud-auth: Application Default Credentials.
    "GOOGLE_APPLICATION_CREDENTIALS",
];

/// `docker-compose -f FILE... config`, resolved (anchors, merges, interpolation) as YAML.
pub(crate) fn compose(files: &[&str], env: &[(&str, &str)]) -> Result<Value, String> {
    let mut cmd = Command::new("docker-compose");
    cmd.current_dir(repo_root()).args(["--project-directory", "."]);
    for f in files {
        cmd.args(["-f", f]);
    }
    cmd.arg("config");
    for key in ["DUCKHAUL_BUCKET", "DUCKHAUL_PREFIX", "DUCKHAUL_ADC_FILE"] {
        cmd.env_remove(key);
    }
    cmd.envs(env.iter().copied());
    let output = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run docker-compose ({e}); scripts/test-env.sh installs Debian's docker-compose package")
    });
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(serde_yaml_ng::from_slice(&output.stdout).expect("docker-compose config prints YAML"))
}

pub(crate) fn service<'a>(config: &'a Value, name: &str) -> &'a Value {
    config["services"].get(name).unwrap_or_else(|| panic!("no service {name}"))
}

pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_sequence().map(|s| s.iter().map(scalar).collect()).unwrap_or_default()
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

pub(crate) fn environment(service: &Value) -> BTreeMap<String, String> {
    service
        .get("environment")
        .and_then(Value::as_mapping)
        .map(|m| m.iter().map(|(k, v)| (scalar(k), scalar(v))).collect())
        .unwrap_or_default()
}

/// The value following `flag` in a command line.
pub(crate) fn arg_after(command: &[String], flag: &str) -> Option<String> {
    command.iter().position(|a| a == flag).and_then(|i| command.get(i + 1)).cloned()
}

#[test]
fn docker_compose_config_accepts_the_offline_pipeline() {
    let config = compose(&["docker-compose.yml"], &[]).expect("docker-compose.yml is valid");
    let names: BTreeSet<String> = config["services"].as_mapping().unwrap().keys().map(scalar).collect();
    assert_eq!(names, ["create-bucket", "duckhaul", "fake-gcs", "faker", "trigger"].map(String::from).into());

    // The emulator, on port 80 under the name duckhaul's endpoint uses.
    let gcs = service(&config, "fake-gcs");
    assert!(scalar(&gcs["image"]).starts_with("fsouza/fake-gcs-server:"), "{gcs:?}");
    let gcs_command = strings(&gcs["command"]);
    assert_eq!(arg_after(&gcs_command, "-port").as_deref(), Some("80"));
    assert_eq!(arg_after(&gcs_command, "-external-url").as_deref(), Some("http://fake-gcs"));

    // The bucket the destination names is created before duckhaul starts.
    let create = strings(&service(&config, "create-bucket")["command"]);
    assert!(create.iter().any(|a| a.starts_with("http://fake-gcs/storage/v1/b")), "{create:?}");
    let body: serde_json::Value = serde_json::from_str(&arg_after(&create, "-d").unwrap()).unwrap();
    let duckhaul = service(&config, "duckhaul");
    let env = environment(duckhaul);
    assert_eq!(env["DUCKHAUL_DESTINATION"], format!("gs://{}/exports", body["name"].as_str().unwrap()));
    assert_eq!(env["DUCKHAUL_GCS_ENDPOINT"], "http://fake-gcs");
    assert_eq!(scalar(&duckhaul["depends_on"]["create-bucket"]["condition"]), "service_completed_successfully");

    // The Faker server is the same image, and duckhaul's upstream is its listen address.
    let faker = service(&config, "faker");
    assert_eq!(faker["image"], duckhaul["image"]);
    assert_eq!(faker["build"]["context"], duckhaul["build"]["context"]);
    let listen = arg_after(&strings(&faker["command"]), "--listen").unwrap();
    let port = listen.rsplit(':').next().unwrap();
    assert_eq!(env["DUCKHAUL_UPSTREAM_URL"], format!("http://faker:{port}/api/v2"));

    // The trigger ingests, then exports, each held until the job ends, and checks both.
    let trigger = service(&config, "trigger");
    let script = strings(&trigger["command"]).join("\n");
    let ingest = script.find("/ingest?wait=true").expect("the trigger ingests");
    let export = script.find("/export?wait=true").expect("the trigger exports");
    assert!(ingest < export, "{script}");
    assert_eq!(script.matches("grep -q '\"state\":\"succeeded\"'").count(), 2, "{script}");
    assert!(script.starts_with("set -eu"), "{script}");
}

#[test]
fn the_real_override_points_at_fakerapi_and_a_real_bucket() {
    let files = ["docker-compose.yml", "docker-compose.real.yml"];
    let err = compose(&files, &[]).expect_err("the override needs a bucket");
    assert!(err.contains("set DUCKHAUL_BUCKET"), "{err}");

    let config = compose(&files, &[("DUCKHAUL_BUCKET", "acme-lake"), ("DUCKHAUL_ADC_FILE", "/tmp/adc.json")]).unwrap();
    let duckhaul = service(&config, "duckhaul");
    let env = environment(duckhaul);
    assert_eq!(env["DUCKHAUL_UPSTREAM_URL"], "https://fakerapi.it/api/v2");
    assert_eq!(env["DUCKHAUL_UPSTREAM_RATE_LIMIT"], "30");
    assert_eq!(env["DUCKHAUL_DESTINATION"], "gs://acme-lake/duckhaul");
    assert_eq!(env["DUCKHAUL_GCS_ENDPOINT"], "");
    let credentials = &env["GOOGLE_APPLICATION_CREDENTIALS"];
    let volumes = strings(&duckhaul["volumes"]);
    assert!(volumes.contains(&format!("/tmp/adc.json:{credentials}:ro")), "{volumes:?}");
    // The database volume is kept from the base file.
    assert!(volumes.iter().any(|v| v.starts_with("duckhaul-data:/data")), "{volumes:?}");
}

/// The last stage of the Dockerfile: its instructions, continuation lines joined.
fn dockerfile_runtime_stage() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let mut instructions = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            pending.push_str(part);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        if let Some((op, rest)) = full.trim().split_once(char::is_whitespace) {
            instructions.push((op.to_uppercase(), rest.trim().to_string()));
        }
    }
    let last_from = instructions.iter().rposition(|(op, _)| op == "FROM").expect("a FROM");
    instructions.split_off(last_from)
}

fn json_array(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{s} is not the exec (JSON) form: {e}"))
}

/// Checks one container's command line and the variables it sets (`declared`) against the
/// binary's help; returns the port the command listens on with the environment it runs in.
pub(crate) fn check_command(
    top: &Help,
    command: &[String],
    declared: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
    what: &str,
) -> Option<u16> {
    let sub = command.first().unwrap_or_else(|| panic!("{what}: no command"));
    assert!(top.commands.contains(sub), "{what}: `duckhaul {sub}` is not a command; commands: {:?}", top.commands);
    let help = cli::help(&[sub]);
    for arg in command.iter().skip(1).filter(|a| a.starts_with("--")) {
        let flag = arg.split('=').next().unwrap();
        assert!(help.flags.contains(flag), "{what}: `duckhaul {sub}` has no flag {flag}; flags: {:?}", help.flags);
    }
    for key in declared.keys() {
        assert!(
            help.envs.contains_key(key) || LIBRARY_ENV.contains(&key.as_str()),
            "{what}: `duckhaul {sub}` reads no variable {key}; it reads {:?}",
            help.envs.keys()
        );
    }
    match sub.as_str() {
        "serve" => {
            let port = env.get("PORT").cloned().unwrap_or_else(|| help.defaults["--port"].clone());
            Some(port.parse().unwrap())
        }
        "fake-api" => {
            let listen = arg_after(command, "--listen").unwrap_or_else(|| help.defaults["--listen"].clone());
            Some(listen.rsplit(':').next().unwrap().parse().unwrap())
        }
        _ => None,
    }
}

#[test]
fn every_command_flag_variable_and_port_in_the_container_files_exists_in_the_binary() {
    let top = cli::help(&[]);
    let stage = dockerfile_runtime_stage();
    let get = |op: &str| -> Vec<&String> { stage.iter().filter(|(o, _)| o == op).map(|(_, rest)| rest).collect() };

    assert_eq!(json_array(get("ENTRYPOINT")[0]), ["duckhaul"]);
    let cmd = json_array(get("CMD")[0]);
    let mut image_env = BTreeMap::new();
    for rest in get("ENV") {
        for pair in rest.split_whitespace() {
            let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("ENV {pair}: use KEY=value"));
            image_env.insert(k.to_string(), v.to_string());
        }
    }
    let port = check_command(&top, &cmd, &image_env, &image_env, "Dockerfile").unwrap();
    let exposed: Vec<u16> =
        get("EXPOSE").iter().flat_map(|r| r.split_whitespace()).map(|p| p.parse().unwrap()).collect();
    assert_eq!(exposed, [port], "EXPOSE must be the port `duckhaul serve` listens on");
    assert_eq!(port, 8080, "Cloud Run's default PORT");

    let user = get("USER");
    assert_eq!(user.len(), 1);
    let uid = user[0].split(':').next().unwrap();
    assert!(uid != "root" && uid != "0", "the runtime user must not be root: {uid}");

    // The database and the local exports are under the declared volume.
    let volumes: Vec<String> = get("VOLUME").iter().flat_map(|v| json_array(v)).collect();
    for key in ["DUCKHAUL_DATABASE", "DUCKHAUL_DESTINATION"] {
        let value = &image_env[key];
        assert!(
            volumes.iter().any(|v| value.starts_with(&format!("{v}/"))),
            "{key}={value} is not under a VOLUME {volumes:?}"
        );
    }

    // Compose: every service running the duckhaul image, in the base file and with the override.
    let openapi: serde_json::Value =
        serde_json::from_slice(&cli::duckhaul().arg("openapi").output().unwrap().stdout).unwrap();
    for files in [&["docker-compose.yml"][..], &["docker-compose.yml", "docker-compose.real.yml"]] {
        let config = compose(files, &[("DUCKHAUL_BUCKET", "acme-lake")]).unwrap();
        let image = scalar(&service(&config, "duckhaul")["image"]);
        let mut listening = BTreeMap::new();
        for (name, svc) in config["services"].as_mapping().unwrap() {
            let name = scalar(name);
            if scalar(&svc["image"]) != image {
                continue;
            }
            let mut env = image_env.clone();
            env.extend(environment(svc));
            let command = if svc.get("command").is_some() { strings(&svc["command"]) } else { cmd.clone() };
            // The image's ENV is checked above against its CMD; a service answers for what it sets.
            let port = check_command(&top, &command, &environment(svc), &env, &format!("{files:?} service {name}"));
            let port = port.unwrap_or_else(|| panic!("{name} listens on nothing"));
            for published in svc.get("ports").and_then(Value::as_sequence).into_iter().flatten() {
                assert_eq!(scalar(&published["target"]), port.to_string(), "{name}'s published port");
            }
            listening.insert(name, port);
        }
        // Every call other containers make to a duckhaul container hits its port and a route.
        for (name, svc) in config["services"].as_mapping().unwrap() {
            let name = scalar(name);
            let text = serde_yaml_ng::to_string(svc).unwrap();
            for (target, port) in &listening {
                for (i, _) in text.match_indices(&format!("http://{target}:")) {
                    let rest = &text[i + format!("http://{target}:").len()..];
                    let end =
                        rest.find(|c: char| !(c.is_ascii_alphanumeric() || "/_-.:".contains(c))).unwrap_or(rest.len());
                    let (called_port, path) = rest[..end]
                        .split_once('/')
                        .map(|(p, path)| (p, format!("/{path}")))
                        .unwrap_or((&rest[..end], "/".into()));
                    assert_eq!(called_port, port.to_string(), "{name} calls {target} on the wrong port");
                    if target == "duckhaul" {
                        assert!(
                            openapi["paths"].get(&path).is_some(),
                            "{name} calls {path}, which duckhaul does not serve"
                        );
                    } else {
                        assert!(path.starts_with("/api/v"), "{name} calls {target}{path}");
                    }
                }
            }
        }
        assert_eq!(listening.get("duckhaul"), Some(&port), "{files:?}");
    }
}
