//! What both examples share that is neither loginkit glue nor the app: a local mock identity
//! provider standing in for GitHub (so the examples run offline), and `--check`, which signs in
//! once with a scripted browser and exits (CI runs it).

use axum::Router;
use loginkit_testkit::{Browser, MockIdp};
use tokio::net::TcpListener;

/// Whether this run is a self-check.
pub fn checking() -> bool {
    std::env::args().any(|a| a == "--check")
}

/// The listener (127.0.0.1:3000, or any free port for a self-check) and its base URL.
pub async fn listen() -> std::io::Result<(TcpListener, String)> {
    let listener = TcpListener::bind(if checking() { "127.0.0.1:0" } else { "127.0.0.1:3000" }).await?;
    let base = format!("http://{}", listener.local_addr()?);
    Ok((listener, base))
}

/// Serves `app`; with `--check`, signs in through `/auth/mock` and checks `/me` greets the
/// mock provider's user from the app's own table, then signs out.
pub async fn serve(
    app: Router,
    listener: TcpListener,
    base: &str,
    idp: &MockIdp,
) -> Result<(), Box<dyn std::error::Error>> {
    if !checking() {
        println!("open {base}/auth/mock");
        axum::serve(listener, app).await?;
        return Ok(());
    }
    tokio::spawn(async move { axum::serve(listener, app).await });
    let browser = Browser::new([base.parse()?, idp.origin()]);
    let walk = browser.walk(format!("{base}/auth/mock").parse()?).await?;
    println!("{} {}", walk.end, walk.body);
    assert!(walk.end.path() == "/me" && walk.body.contains("useroauth@localhost.test"), "login failed");
    let signed_out = browser.client().post(format!("{base}/auth/sign-out")).send().await?;
    assert_eq!(signed_out.status(), 204);
    let after = browser.client().get(format!("{base}/me")).send().await?;
    assert_eq!(after.status(), 401, "signed out");
    Ok(())
}
