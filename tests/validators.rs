//! The synthesized CloudFormation templates pass cfn-lint with no finding, and every ASL file passes
//! statelint. The tools are pinned in deployment/local_cloud/requirements.txt (deployment/local-cloud.sh
//! installs them into .local-cloud/venv).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tool(name: &str) -> PathBuf {
    let venv =
        std::env::var("LOCAL_CLOUD_STATE_DIR").map(PathBuf::from).unwrap_or_else(|_| root().join(".local-cloud"));
    let path = venv.join("venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `deployment/local-cloud.sh start` once (it installs the pinned tools)",
        path.display()
    );
    path
}

fn run(tool: PathBuf, args: &[PathBuf]) {
    let out = Command::new(&tool).args(args).output().expect("the validator runs");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "{} found problems:\n{report}", tool.display());
}

#[test]
fn cfn_lint_finds_nothing_in_the_synthesized_templates() {
    let out = std::env::temp_dir().join(format!("templates-{}", std::process::id()));
    let written = infra::cloudformation::write_templates(&infra::cloudformation::Assets::default(), &out).unwrap();
    run(tool("cfn-lint"), &written);
}

#[test]
fn statelint_finds_nothing_in_the_state_machines() {
    let files: Vec<PathBuf> = std::fs::read_dir(root().join("statemachines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 2);
    for file in files {
        // The ASL files hold ${…FunctionArn} placeholders; statelint needs real ARNs in Resource.
        let text = std::fs::read_to_string(&file).unwrap();
        let text = regex_free_substitute(&text);
        let tmp = std::env::temp_dir().join(format!(
            "{}-{}",
            std::process::id(),
            file.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&tmp, text).unwrap();
        run(tool("statelint"), &[tmp]);
    }
}

fn regex_free_substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e + 1).unwrap_or(rest.len());
        let name = &rest[start + 2..end - 1];
        out.push_str(&format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}
