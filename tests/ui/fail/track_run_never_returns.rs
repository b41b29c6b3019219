use runmeta::prelude::*;

#[track_run]
fn serve_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn main() {
    if std::env::args().count() > 99 {
        serve_forever();
    }
}
