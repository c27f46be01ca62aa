//! The `wren` command line: run the gateway, or check a config file.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use wren::app::Server;
use wren::settings::Settings;

mod passwd;

/// wren: MQTT broker and MQTT-SN gateway for sensor radios.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML config file, layered over the embedded defaults (and under WREN__SECTION__KEY variables).
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the gateway (the default).
    Run,
    /// Validates a config file and exits: 0 when valid, 1 with the offending key otherwise.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Adds a user to a password file or changes their password, like
    /// mosquitto_passwd: prompts twice on a terminal, or reads one line from
    /// stdin with --password-stdin. The file is created when missing.
    Passwd {
        /// Deletes USER instead.
        #[arg(short = 'D', long = "delete")]
        delete: bool,
        /// Reads the password from the first line of standard input.
        #[arg(long, conflicts_with = "delete")]
        password_stdin: bool,
        /// The password file ([auth] password_file).
        file: PathBuf,
        /// The user name.
        user: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckConfig { file }) => check_config(&file),
        Some(Command::Passwd {
            delete,
            password_stdin,
            file,
            user,
        }) => passwd::run(&file, &user, delete, password_stdin),
        Some(Command::Run) | None => run(cli.config),
    }
}

fn check_config(file: &std::path::Path) -> anyhow::Result<()> {
    let checked = Settings::load(Some(file))
        .map_err(anyhow::Error::from)
        .and_then(|settings| referenced_files(&settings));
    match checked {
        Ok(()) => {
            eprintln!("{}: ok", file.display());
            Ok(())
        }
        Err(error) => {
            eprintln!("{error:#}");
            std::process::exit(1);
        }
    }
}

/// Reads the files the settings name (password file, ACL, certificates), as
/// a start would, so a config that names a broken file is not called valid.
fn referenced_files(settings: &Settings) -> anyhow::Result<()> {
    wren::auth::Security::load(&settings.auth, settings.tls.use_identity_as_username)
        .context("[auth]")?;
    wren::transport::tls::Certificates::load(&settings.tls).context("[tls]")?;
    Ok(())
}

fn run(config: Option<PathBuf>) -> anyhow::Result<()> {
    let settings = Settings::load(config.as_deref())?;
    let filter =
        EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&settings.log.level))?;
    // Colours only on a terminal: journald and log files get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let server = Server::start(settings)?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "wren is running");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("signal runtime")?;
    runtime.block_on(serve_signals(&server))?;
    server.shutdown()?;
    tracing::info!("stopped");
    Ok(())
}

/// Reloads on SIGHUP (auth files, certificates); resolves on Ctrl-C
/// (SIGINT) or SIGTERM, as systemd sends on stop.
async fn serve_signals(server: &Server) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            result = tokio::signal::ctrl_c() => return Ok(result?),
            _ = terminate.recv() => return Ok(()),
            _ = hangup.recv() => match server.reload() {
                Ok(()) => tracing::info!("reloaded on SIGHUP"),
                Err(error) => tracing::error!(error = format!("{error:#}"), "reload failed, previous files kept"),
            },
        }
    }
}
