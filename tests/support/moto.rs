//! A moto server of the test's own: started on a free loopback port, stopped when dropped. No test
//! may need a real AWS account, and moto serves STS, SSM, IAM and S3 over real HTTP, so the real
//! SDK clients in stsgrant run unchanged against it through `AWS_ENDPOINT_URL`.
//!
//! Setting up state (parameters, roles, buckets) goes through raw HTTP calls rather than the AWS
//! CLI or an SDK: moto does not check signatures, and it picks the service of a request on its
//! single port from the SigV4 credential scope in `Authorization`, so a fake header naming the
//! service is all the routing it needs. A missing `moto_server` fails the test rather than
//! skipping it: a skipped end-to-end test reads as a passing one.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::http;
use super::recording::{self, RecordedRequest};

/// The region every helper works in; it matches the example venues, and SSM parameters are
/// regional, so stsgrant must look in the same one.
pub const REGION: &str = "us-west-2";

/// The account moto puts every resource in when the access key is not one of its special ones.
pub const ACCOUNT_ID: &str = "123456789012";

/// How long moto may take to import and bind; it usually needs two to four seconds.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `moto_server`, killed and reaped on drop.
pub struct MotoServer {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl MotoServer {
    /// Starts `moto_server` on a free loopback port with recording on, and waits until it
    /// answers. Panics (never skips) when moto is missing or does not come up in time.
    pub fn start() -> MotoServer {
        let dir = tempfile::Builder::new()
            .prefix("stsgrant-moto-")
            .tempdir()
            .expect("the system temp dir is writable");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("moto.log"))
            .expect("a fresh temp dir accepts a new file");
        let log_err = log
            .try_clone()
            .expect("a just-opened file can be duplicated");

        // moto runs boto code inside, which reads the same variables and files as any client:
        // a developer's `AWS_PROFILE` alone makes every SSM call fail with `ProfileNotFound`.
        let mut command = Command::new("moto_server");
        remove_inherited_aws_variables(&mut command);
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("AWS_CONFIG_FILE", dir.path().join("aws-config-absent"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                dir.path().join("aws-credentials-absent"),
            )
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording.jsonl"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "`moto_server` is not on PATH; the end-to-end tests need it\n\
                 hint: run `pip install 'moto[server]'`"
            ),
            Err(error) => panic!("cannot start `moto_server`: {error}"),
        };

        let mut server = MotoServer {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
        };
        server.wait_until_ready();
        server.clear_recording();
        server
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self.answers() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited early ({status}); its log follows");
            }
            if Instant::now() > deadline {
                panic!(
                    "moto_server did not answer on {} within {READY_TIMEOUT:?}; its log follows",
                    self.endpoint()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn answers(&self) -> bool {
        if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            return false;
        }
        http::request(self.addr, "GET", "/moto-api/", &[], b"")
            .is_ok_and(|response| response.status == 200)
    }

    /// The server's loopback address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to put in `AWS_ENDPOINT_URL`, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The environment a process needs to talk to this server and to nothing else: endpoint,
    /// region, moto's dummy keys, no instance metadata, no proxy for loopback, and config and
    /// credential files that do not exist so that a developer's own `~/.aws` is never read.
    ///
    /// Inherited `AWS_*` variables (a session token, a profile, a per-service endpoint) would
    /// still win over some of these; [`MotoServer::configure`] removes them.
    pub fn env(&self) -> Vec<(String, String)> {
        let missing = |name: &str| self.dir.path().join(name).display().to_string();
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_CONFIG_FILE", missing("aws-config-absent")),
            // A developer's HTTP proxy must not see loopback traffic.
            ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
            ("no_proxy", "127.0.0.1,localhost".to_owned()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                missing("aws-credentials-absent"),
            ),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// Removes every inherited `AWS_*` variable from `command` and sets [`MotoServer::env`].
    pub fn configure<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        remove_inherited_aws_variables(command);
        command.envs(self.env())
    }

    /// The folder this server keeps its log and recording in, removed on drop.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Everything moto wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("--- last lines of moto's log ---\n{tail}\n--- end of moto's log ---")
    }

    /// Records requests from now on. Recording is already on after [`MotoServer::start`].
    pub fn start_recording(&self) {
        self.moto_api("start-recording");
    }

    /// Stops recording; what was recorded stays until [`MotoServer::clear_recording`].
    pub fn stop_recording(&self) {
        self.moto_api("stop-recording");
    }

    /// Forgets every recorded request; recording stays on or off as it was.
    pub fn clear_recording(&self) {
        self.moto_api("reset-recording");
    }

    /// Every request recorded since the last clear, oldest first. The harness's own setup calls
    /// are in it too; clear after setting up.
    pub fn recording(&self) -> Vec<RecordedRequest> {
        recording::parse_recording(&self.moto_api("download-recording"))
    }

    /// The form parameters of every recorded query-protocol call with that `Action`, e.g.
    /// `requests_for_action("AssumeRole")[0]["ExternalId"]`.
    pub fn requests_for_action(&self, action: &str) -> Vec<BTreeMap<String, String>> {
        self.recording()
            .iter()
            .map(RecordedRequest::form)
            .filter(|form| form.get("Action").is_some_and(|name| name == action))
            .collect()
    }

    /// The JSON bodies of every recorded SSM call to `target`, given whole
    /// (`AmazonSSM.GetParameter`) or as the operation name (`GetParameter`).
    pub fn ssm_calls(&self, target: &str) -> Vec<Value> {
        self.recording()
            .iter()
            .filter(|request| {
                request
                    .target()
                    .is_some_and(|t| recording::target_matches(t, target))
            })
            .map(|request| {
                request.json().unwrap_or_else(|| {
                    panic!(
                        "SSM call to `{target}` has no JSON body: {}",
                        request.body_text()
                    )
                })
            })
            .collect()
    }

    fn moto_api(&self, action: &str) -> String {
        let path = format!("/moto-api/recorder/{action}");
        let response = self.send("POST", &path, &[], b"");
        self.expect_success(&path, &response);
        response.text()
    }

    /// Calls an SSM operation (JSON protocol) and returns its JSON answer.
    pub fn ssm(&self, operation: &str, body: &Value) -> Value {
        let target = format!("AmazonSSM.{operation}");
        let authorization = authorization("ssm", REGION);
        let headers = [
            ("Authorization", authorization.as_str()),
            ("X-Amz-Target", target.as_str()),
            ("Content-Type", "application/x-amz-json-1.1"),
        ];
        let response = self.send("POST", "/", &headers, body.to_string().as_bytes());
        self.expect_success(&target, &response);
        serde_json::from_slice(&response.body).unwrap_or_else(|error| {
            panic!(
                "`{target}` answered non-JSON ({error}): {}",
                response.text()
            )
        })
    }

    /// Stores a parameter (overwriting), as a `SecureString` when `secure`.
    pub fn put_parameter(&self, name: &str, value: &str, secure: bool) {
        let kind = if secure { "SecureString" } else { "String" };
        let body = json!({ "Name": name, "Value": value, "Type": kind, "Overwrite": true });
        self.ssm("PutParameter", &body);
    }

    /// Reads a parameter's value, decrypted.
    pub fn get_parameter(&self, name: &str) -> String {
        let answer = self.ssm(
            "GetParameter",
            &json!({ "Name": name, "WithDecryption": true }),
        );
        answer["Parameter"]["Value"]
            .as_str()
            .unwrap_or_else(|| panic!("GetParameter `{name}` answered without a value: {answer}"))
            .to_owned()
    }

    /// Creates an S3 bucket in [`REGION`] (path style: `PUT /<name>`).
    pub fn create_bucket(&self, name: &str) {
        let authorization = authorization("s3", REGION);
        let headers = [
            ("Authorization", authorization.as_str()),
            ("Content-Type", "application/xml"),
        ];
        let body = format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"
        );
        let path = format!("/{name}");
        let response = self.send("PUT", &path, &headers, body.as_bytes());
        self.expect_success(&format!("CreateBucket `{name}`"), &response);
    }

    /// Creates an IAM role with that trust policy and returns its ARN.
    pub fn create_role(&self, name: &str, trust_policy: &str) -> String {
        let body = http::form_encode(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", trust_policy),
            ("MaxSessionDuration", "43200"),
        ]);
        let response = self.query("iam", "us-east-1", &body);
        let text = response.text();
        let arn = text
            .split_once("<Arn>")
            .and_then(|(_, rest)| rest.split_once("</Arn>"))
            .map(|(arn, _)| arn.to_owned());
        arn.unwrap_or_else(|| panic!("CreateRole `{name}` answered without an ARN: {text}"))
    }

    /// Sends a query-protocol call (form-encoded `POST /`) to `service` and checks it succeeded.
    pub fn query(&self, service: &str, region: &str, form_body: &str) -> http::Response {
        let authorization = authorization(service, region);
        let headers = [
            ("Authorization", authorization.as_str()),
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ];
        let response = self.send("POST", "/", &headers, form_body.as_bytes());
        self.expect_success(&format!("{service} {form_body}"), &response);
        response
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> http::Response {
        http::request(self.addr, method, path, headers, body).unwrap_or_else(|error| {
            panic!("{method} {path} to moto failed: {error}; its log follows")
        })
    }

    fn expect_success(&self, what: &str, response: &http::Response) {
        if !(200..300).contains(&response.status) {
            panic!(
                "{what}: moto answered {}: {}",
                response.status,
                response.text()
            );
        }
    }
}

impl Drop for MotoServer {
    #[allow(
        clippy::print_stderr,
        reason = "a failing test's stderr is where moto's log helps"
    )]
    fn drop(&mut self) {
        // The child may already be gone; nothing useful can be done about an error here.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
    }
}

/// Keeps every `AWS_*` variable of the test's own environment (profiles, session tokens,
/// per-service endpoints, `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`) away from `command`.
fn remove_inherited_aws_variables(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
}

/// A port that was free a moment ago: bind port 0, read what the kernel picked, let it go.
/// Another process could take it before moto binds; on a test machine that is rare enough.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("loopback can bind port 0");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// A SigV4-shaped `Authorization` header whose credential scope names `service` and `region`.
/// moto ignores the signature but routes on the scope, and takes the region from it.
fn authorization(service: &str, region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}
