//! A fault injector between stsgrant and the local AWS endpoint: a loopback HTTP proxy that
//! answers chosen requests with throttling, server errors, a delay or a dropped connection
//! instead of forwarding them. Faults are decided by a function of the request, so each test
//! states its fault mix exactly and the outcome does not depend on timing.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 with the service's throttling error, which clients retry with backoff.
    Throttle,
    /// HTTP 503 with the service's unavailable error, which clients retry.
    Unavailable,
    /// Forward it after this long.
    Slow(Duration),
    /// Close the connection without an answer; the request never reaches the endpoint.
    Drop,
}

/// One request as the proxy read it, for choosing a fault.
#[derive(Debug, Clone)]
pub struct Request {
    /// 1 for the first request the proxy saw.
    pub number: u64,
    /// `sts` or `ssm`, from the SigV4 credential scope.
    pub service: String,
    /// `AssumeRole`, `GetParameter`, …
    pub action: String,
    /// The body, as text.
    pub body: String,
}

type Chooser = dyn Fn(&Request) -> Option<Fault> + Send + Sync;

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Faults injected so far, by kind.
    pub injected: Arc<Mutex<Vec<Fault>>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` that asks `choose` about every request.
    pub fn start(
        upstream: SocketAddr,
        choose: impl Fn(&Request) -> Option<Fault> + Send + Sync + 'static,
    ) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking accept");
        let addr = listener.local_addr().expect("bound");
        let stop = Arc::new(AtomicBool::new(false));
        let injected = Arc::new(Mutex::new(Vec::new()));
        let choose: Arc<Chooser> = Arc::new(choose);
        let counter = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, injected) = (Arc::clone(&stop), Arc::clone(&injected));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let (choose, injected, counter) = (
                                Arc::clone(&choose),
                                Arc::clone(&injected),
                                Arc::clone(&counter),
                            );
                            std::thread::spawn(move || {
                                serve(client, upstream, &*choose, &injected, &counter)
                            });
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2))
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        FaultProxy {
            addr,
            stop,
            thread: Some(thread),
            injected,
        }
    }

    /// The URL to put in `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many faults of each kind were injected: throttle, unavailable, slow, drop.
    pub fn counts(&self) -> [usize; 4] {
        let injected = self.injected.lock().expect("no panic while counting");
        let mut counts = [0; 4];
        for fault in injected.iter() {
            counts[match fault {
                Fault::Throttle => 0,
                Fault::Unavailable => 1,
                Fault::Slow(_) => 2,
                Fault::Drop => 3,
            }] += 1;
        }
        counts
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves requests on one client connection until it closes.
fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    choose: &Chooser,
    injected: &Mutex<Vec<Fault>>,
    counter: &AtomicU64,
) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(client.try_clone().expect("a second handle"));
    let mut client = client;
    while let Some((head, body)) = read_request(&mut reader) {
        let request = describe(&head, &body, counter.fetch_add(1, Ordering::Relaxed) + 1);
        let fault = choose(&request);
        if let Some(fault) = fault {
            injected
                .lock()
                .expect("no panic while recording")
                .push(fault);
        }
        let response = match fault {
            Some(Fault::Drop) => {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
            Some(Fault::Throttle) => error_response(
                &request,
                400,
                "Throttling",
                "ThrottlingException",
                "Rate exceeded",
            ),
            Some(Fault::Unavailable) => error_response(
                &request,
                503,
                "ServiceUnavailable",
                "ServiceUnavailableException",
                "Try again",
            ),
            Some(Fault::Slow(delay)) => {
                std::thread::sleep(delay);
                forward(upstream, &head, &body)
            }
            None => forward(upstream, &head, &body),
        };
        let Some(response) = response else { return };
        if client.write_all(&response).is_err() {
            return;
        }
    }
}

/// Reads one request: its head (request line and headers) and its body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let length = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn describe(head: &str, body: &[u8], number: u64) -> Request {
    let body = String::from_utf8_lossy(body).into_owned();
    let service = header(head, "authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(3))
        .unwrap_or_default()
        .to_owned();
    let action = match header(head, "x-amz-target") {
        Some(target) => target.rsplit('.').next().unwrap_or_default().to_owned(),
        None => body
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .unwrap_or_default()
            .to_owned(),
    };
    Request {
        number,
        service,
        action,
        body,
    }
}

/// The error a service would send, in its protocol: XML for STS, JSON for SSM.
fn error_response(
    request: &Request,
    status: u16,
    query_code: &str,
    json_type: &str,
    message: &str,
) -> Option<Vec<u8>> {
    let reason = if status == 400 {
        "Bad Request"
    } else {
        "Service Unavailable"
    };
    let (content_type, body) = if request.service == "ssm" {
        (
            "application/x-amz-json-1.1",
            format!("{{\"__type\":\"{json_type}\",\"message\":\"{message}\"}}"),
        )
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ),
        )
    };
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: fault\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// Sends the request to the endpoint on a connection of its own and returns the answer.
fn forward(upstream: SocketAddr, head: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).ok()?;
    let _ = server.set_read_timeout(Some(Duration::from_secs(30)));
    let head: String = head
        .lines()
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:") && !line.is_empty())
        .map(|line| format!("{line}\r\n"))
        .collect();
    server.write_all(head.as_bytes()).ok()?;
    server.write_all(b"Connection: close\r\n\r\n").ok()?;
    server.write_all(body).ok()?;
    let mut response = Vec::new();
    server.read_to_end(&mut response).ok()?;
    Some(keep_alive(response))
}

/// Rewrites the endpoint's `Connection: close` so the client may send its next request on the
/// same connection, as it would to AWS.
fn keep_alive(response: Vec<u8>) -> Vec<u8> {
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response;
    };
    let head = String::from_utf8_lossy(&response[..split]);
    let mut head: String = head
        .lines()
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .map(|line| format!("{line}\r\n"))
        .collect();
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&response[split + 4..]);
    out
}
