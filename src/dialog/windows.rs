use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read as _};
use std::os::windows::io::AsRawHandle;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::reading::{Input, Read, Wait};
use super::{NoDialog, Outcome};

pub const COLOUR: bool = false;

type Handle = *mut core::ffi::c_void;
const ERROR_OPERATION_ABORTED: i32 = 995;

const KEY_EVENT: u16 = 0x0001;
const VK_RETURN: u16 = 0x0D;
const ENTER_SCAN_CODE: u16 = 0x1C;

/// `KEY_EVENT_RECORD`.
#[repr(C)]
struct KeyEventRecord {
    key_down: i32,
    repeat_count: u16,
    virtual_key_code: u16,
    virtual_scan_code: u16,
    unicode_char: u16,
    control_key_state: u32,
}

/// `INPUT_RECORD` holding a key event (the largest member of its union, 16 bytes).
#[repr(C)]
struct InputRecord {
    event_type: u16,
    key: KeyEventRecord,
}

const _: () = assert!(std::mem::size_of::<InputRecord>() == 20);

#[link(name = "kernel32")]
extern "system" {
    fn CancelSynchronousIo(thread: Handle) -> i32;
    fn FlushConsoleInputBuffer(console_input: Handle) -> i32;
    fn WriteConsoleInputW(
        console_input: Handle,
        buffer: *const InputRecord,
        length: u32,
        written: *mut u32,
    ) -> i32;
}

/// The console, opened for this dialog.
pub struct Terminal {
    input: File,
    output: File,
}

impl Terminal {
    pub fn open() -> Result<Terminal, NoDialog> {
        if !std::io::stdin().is_terminal() {
            return Err(NoDialog::StdinNotTerminal);
        }
        let input = OpenOptions::new()
            .read(true)
            .write(true)
            .open("CONIN$")
            .map_err(|_| NoDialog::NoTerminal)?;
        let output = OpenOptions::new()
            .write(true)
            .open("CONOUT$")
            .map_err(|_| NoDialog::NoTerminal)?;
        Ok(Terminal { input, output })
    }

    pub fn ask(&mut self, color: bool, timeout: Duration) -> Outcome {
        let mut input = ConsoleInput {
            console: &self.input,
            reader: None,
            outstanding: false,
            ready: None,
        };
        super::reading::run(&mut input, &mut self.output, color, timeout)
    }
}

type Chunk = std::io::Result<Vec<u8>>;

/// The helper thread: one console read per request, the result sent back.
struct Reader {
    requests: Sender<()>,
    replies: Receiver<Chunk>,
    thread: JoinHandle<()>,
}

/// Console input read by a helper thread, started at the first wait.
struct ConsoleInput<'a> {
    console: &'a File,
    reader: Option<Reader>,
    /// A read was requested and its reply has not come yet.
    outstanding: bool,
    ready: Option<Chunk>,
}

impl ConsoleInput<'_> {
    fn reader(&mut self) -> Option<&Reader> {
        if self.reader.is_none() {
            let mut console = self.console.try_clone().ok()?;
            let (requests, asked) = mpsc::channel::<()>();
            let (reply, replies) = mpsc::channel::<Chunk>();
            let thread = std::thread::Builder::new()
                .name("ov-telemetry-dialog".into())
                .spawn(move || {
                    let mut buf = [0u8; 512];
                    while asked.recv().is_ok() {
                        let chunk = console.read(&mut buf).map(|n| buf[..n].to_vec());
                        if reply.send(chunk).is_err() {
                            break;
                        }
                    }
                })
                .ok()?;
            self.reader = Some(Reader {
                requests,
                replies,
                thread,
            });
        }
        self.reader.as_ref()
    }

    /// Ends the helper. A read still outstanding is ended the way libuv ends one: an
    /// Enter key event written into the console input makes the line read return, with
    /// the half-typed line, which is thrown away; it never takes a line typed for the
    /// tool later. An idle helper ends when its request channel closes.
    fn stop(&mut self) {
        let Some(reader) = self.reader.take() else {
            return;
        };
        if !std::mem::take(&mut self.outstanding) {
            return;
        }
        let enter = InputRecord {
            event_type: KEY_EVENT,
            key: KeyEventRecord {
                key_down: 1,
                repeat_count: 1,
                virtual_key_code: VK_RETURN,
                virtual_scan_code: ENTER_SCAN_CODE,
                unicode_char: u16::from(b'\r'),
                control_key_state: 0,
            },
        };
        let mut written = 0u32;
        // SAFETY: the handle is the console input owned by `console`; `enter` is one
        // valid record and `written` a valid place for the count, both live for the call.
        unsafe {
            WriteConsoleInputW(
                self.console.as_raw_handle() as Handle,
                &enter,
                1,
                &mut written,
            )
        };
        if reader.replies.recv_timeout(Duration::from_secs(1)).is_err() {
            // Last resort (a console that ignored the key): cancel the read itself.
            // SAFETY: the handle is the helper thread's, valid while `reader.thread`
            // lives (the JoinHandle is dropped, detaching it, only afterwards).
            unsafe { CancelSynchronousIo(reader.thread.as_raw_handle() as Handle) };
            let _ = reader.replies.recv_timeout(Duration::from_millis(200));
        }
    }
}

impl Input for ConsoleInput<'_> {
    fn wait(&mut self, limit: Duration) -> Wait {
        if self.ready.is_some() {
            return Wait::Ready;
        }
        let outstanding = self.outstanding;
        let Some(reader) = self.reader() else {
            return Wait::Failed;
        };
        if !outstanding && reader.requests.send(()).is_err() {
            return Wait::Failed;
        }
        let result = reader.replies.recv_timeout(limit);
        match result {
            Ok(chunk) => {
                self.outstanding = false;
                self.ready = Some(chunk);
                Wait::Ready
            }
            Err(RecvTimeoutError::Timeout) => {
                self.outstanding = true;
                Wait::TimedOut
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.outstanding = false;
                Wait::Failed
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Read {
        match self.ready.take() {
            None => Read::Again,
            Some(Ok(bytes)) if bytes.is_empty() => Read::Eof,
            Some(Ok(bytes)) => {
                // The helper reads at most 512 bytes, the size of the caller's buffer.
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                Read::Data(n)
            }
            // Ctrl-C with a console control handler installed by the host.
            Some(Err(e)) if e.raw_os_error() == Some(ERROR_OPERATION_ABORTED) => Read::Interrupted,
            Some(Err(_)) => Read::Failed,
        }
    }

    fn discard_typed(&mut self) {
        self.stop();
        // SAFETY: the handle is the console input handle owned by `console`, valid here.
        unsafe { FlushConsoleInputBuffer(self.console.as_raw_handle() as Handle) };
    }
}

impl Drop for ConsoleInput<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}
