//! `decrypt`: an archived encrypted recording or composition, decrypted with the customer's private key
//! into a file (through a temporary file beside it, renamed only when the whole file decrypted).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::global::Global;
use super::output::print_report;
use crate::operator::decrypt::{self, DecryptError};
use crate::operator::records::{self, Archived};
use crate::twilio::envelope::Envelope;

/// The options of `decrypt`.
#[derive(Debug, Args)]
pub struct Decrypt {
    /// The PKCS#8 RSA private key (PEM or DER) whose public key Twilio encrypts with. It stays here: the
    /// Lambdas never see it.
    #[arg(long, env = "DECRYPT_PRIVATE_KEY")]
    private_key: PathBuf,
    /// The archived object: s3://bucket/key, or a RecordingSid (RT...) or CompositionSid (CJ...),
    /// found through its media-archived record in the events table (EVENTS_TABLE or --stack).
    source: String,
    /// The media's room (RM...), when SOURCE is a SID: its record is then read with one Query of the
    /// room's timeline; without it, the table is scanned (paged) for the record.
    #[arg(long)]
    room: Option<String>,
    /// Where the plaintext goes (written only when the whole file decrypted).
    #[arg(long)]
    output: PathBuf,
}

impl Decrypt {
    /// SOURCE as `s3://bucket/key`: itself, or the `s3_uri` of a SID's `media-archived` record.
    async fn s3_uri(&self, global: &Global) -> Result<String, String> {
        let sid = self.source.as_str();
        if !(sid.starts_with("RT") || sid.starts_with("CJ")) {
            return Ok(self.source.clone());
        }
        let table = global.events_table().await?;
        let found = records::find_archived(&table.dynamodb, &table.name, sid, self.room.as_deref())
            .await
            .map_err(|err| err.to_string())?;
        let where_ = match &self.room {
            Some(room) => format!("room {room}'s timeline"),
            None => format!("table {}", table.name),
        };
        match found {
            None => Err(format!(
                "{sid} has no media-archived record in {where_}: is it archived? (reconcile tells)"
            )),
            Some(Archived {
                s3_uri: Some(uri), ..
            }) if uri.starts_with("s3://") => Ok(uri),
            Some(Archived { s3_uri, .. }) => Err(format!(
                "{sid}'s media-archived record names no archived object ({}): Twilio stored it in the \
                 customer's own storage",
                s3_uri.unwrap_or_else(|| "no s3_uri".into())
            )),
        }
    }

    /// Decrypts the object into `--output` and prints the plaintext's size and SHA-256; exit status 1
    /// (and no output file) for a wrong key, an object without an envelope, or a bad padding.
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let key_bytes = std::fs::read(&self.private_key)
            .map_err(|err| format!("cannot read {}: {err}", self.private_key.display()))?;
        let key = decrypt::private_key(&key_bytes).map_err(|err| err.to_string())?;
        let source = self.s3_uri(global).await?;
        let (bucket, object_key) = source
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(|| {
                format!(
                    "{:?} is not s3://bucket/key: give s3://bucket/key, a RecordingSid (RT...) or a CompositionSid (CJ...)",
                    self.source
                )
            })?;
        let s3 = global.s3_client().await?;
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(object_key)
            .send()
            .await
            .map_err(|err| {
                format!(
                    "cannot read {}: {}",
                    source,
                    aws_sdk_s3::error::DisplayErrorContext(err)
                )
            })?;
        let metadata = object.metadata().cloned().unwrap_or_default();
        let envelope =
            Envelope::from_metadata(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|err| format!("{}: {err}", source))?
                .ok_or_else(|| {
                    format!(
                "{} is not encrypted: it has no encryption envelope (x-amz-key and x-amz-iv)",
                source
            )
                })?;
        let partial = partial_path(&self.output);
        let written = async {
            let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
            let done =
                decrypt::decrypt(&envelope, &key, object.body.into_async_read(), &mut file).await?;
            file.into_inner()
                .map_err(|err| DecryptError::Io(err.into_error()))?
                .sync_all()?;
            std::fs::rename(&partial, &self.output)?;
            Ok::<_, DecryptError>(done)
        }
        .await;
        let done = match written {
            Ok(done) => done,
            Err(err) => {
                let _ = std::fs::remove_file(&partial);
                return Err(format!("{}: {err}; nothing written", source));
            }
        };
        let rows = vec![
            ("output".to_owned(), self.output.display().to_string()),
            ("plaintext bytes".to_owned(), done.size.to_string()),
            ("plaintext sha256".to_owned(), done.sha256.clone()),
        ];
        print_report(global.json, &done, rows)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// `.{name}.partial` beside `output`.
fn partial_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "decrypted".into());
    output.with_file_name(format!(".{name}.partial"))
}
