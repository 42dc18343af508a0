//! The Cloud Run service and job definitions, checked against the binary: the settings the
//! issue requires, and every command, flag, variable, port and probe path they name.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use crate::cli::{self, repo_root};
use crate::containers::check_command;

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// Checks one container: its args against the CLI, its env against what the command reads,
/// and its volume mount against the image's database path; returns the port it listens on.
fn check_container(container: &Value, what: &str) -> (Vec<String>, Option<u16>) {
    let args: Vec<String> = container["args"].as_sequence().unwrap().iter().map(text).collect();
    let env: BTreeMap<String, String> = container["env"]
        .as_sequence()
        .map(|e| e.iter().map(|kv| (text(&kv["name"]), text(&kv["value"]))).collect())
        .unwrap_or_default();
    let port = check_command(&cli::help(&[]), &args, &env, &env, what);
    let mounts: Vec<String> =
        container["volumeMounts"].as_sequence().unwrap().iter().map(|m| text(&m["mountPath"])).collect();
    // The image keeps the database under /data (its ENV DUCKHAUL_DATABASE): that is the mount.
    assert_eq!(mounts, ["/data"], "{what}");
    let limits = &container["resources"]["limits"];
    assert!(limits.get("memory").is_some() && limits.get("cpu").is_some(), "{what}: set cpu and memory limits");
    (args, port)
}

#[test]
fn the_service_keeps_cpu_runs_one_instance_and_probes_healthz() {
    let service = load("deploy/cloudrun-service.yaml");
    assert_eq!(text(&service["apiVersion"]), "serving.knative.dev/v1");
    assert_eq!(text(&service["kind"]), "Service");
    let template = &service["spec"]["template"];
    let annotations = &template["metadata"]["annotations"];
    assert_eq!(text(&annotations["run.googleapis.com/cpu-throttling"]), "false");
    assert_eq!(text(&annotations["autoscaling.knative.dev/maxScale"]), "1");
    // Nothing durable lives on the instance (the bucket is the record): it may scale to zero.
    assert_eq!(text(&annotations["autoscaling.knative.dev/minScale"]), "0");
    let timeout: u32 = text(&template["spec"]["timeoutSeconds"]).parse().unwrap();
    assert!((300..=3600).contains(&timeout), "?wait=true requests need a long timeout: {timeout}");

    let containers = template["spec"]["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let (args, port) = check_container(container, "cloudrun-service.yaml");
    assert_eq!(args, ["serve"]);
    let port = port.unwrap();
    assert_eq!(text(&container["ports"][0]["containerPort"]), port.to_string());
    let env: Vec<String> = container["env"].as_sequence().unwrap().iter().map(|kv| text(&kv["name"])).collect();
    assert!(env.contains(&"GOOGLE_CLOUD_PROJECT".to_string()), "request traces need the project: {env:?}");

    let openapi: serde_json::Value =
        serde_json::from_slice(&cli::duckhaul().arg("openapi").output().unwrap().stdout).unwrap();
    for probe in ["startupProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(text(&get["path"]), "/healthz", "{probe}");
        assert!(openapi["paths"].get("/healthz").is_some());
        assert_eq!(text(&get["port"]), port.to_string(), "{probe}");
    }
    // /healthz answers 503 while the database is reopened after a fatal error: liveness must
    // leave that time (the recovery waits up to 30 s for calls to let go, then replays the WAL)
    // and still restart an instance stuck unhealthy within minutes.
    let liveness = &container["livenessProbe"];
    let period: u32 = text(&liveness["periodSeconds"]).parse().unwrap();
    let failures: u32 = text(&liveness["failureThreshold"]).parse().unwrap();
    assert!((45..=180).contains(&(period * failures)), "liveness gives up after {} s", period * failures);
    let volume = &template["spec"]["volumes"][0];
    assert_eq!(text(&volume["name"]), text(&container["volumeMounts"][0]["name"]));
}

#[test]
fn the_job_runs_the_one_shot_command_in_tasks_that_export() {
    let job = load("deploy/cloudrun-job.yaml");
    assert_eq!(text(&job["apiVersion"]), "run.googleapis.com/v1");
    assert_eq!(text(&job["kind"]), "Job");
    let execution = &job["spec"]["template"]["spec"];
    let tasks: u32 = text(&execution["taskCount"]).parse().unwrap();
    assert!(tasks >= 1);
    let container = &execution["template"]["spec"]["containers"][0];
    let (args, port) = check_container(container, "cloudrun-job.yaml");
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--export".to_string()), "each task exports its part: {args:?}");
    assert_eq!(port, None, "a job listens on nothing");
    // `run` reads the task variables Cloud Run sets.
    let help = cli::help(&["run"]);
    for var in ["CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT", "CLOUD_RUN_EXECUTION"] {
        assert!(help.envs.contains_key(var), "duckhaul run does not read {var}");
    }
}
