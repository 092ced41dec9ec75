//! Content types of site files by extension: `mime_guess`'s table (compiled in, so every
//! machine gives the same answer whatever its `/etc/mime.types` says), with capsule's own
//! answer only where browsers need a specific value. Owns no I/O.

/// Where capsule answers instead of `mime_guess`: JavaScript modules must be
/// `text/javascript` (browsers refuse a module script of another type; mime_guess says
/// `application/javascript` for `.mjs`, nothing for `.cjs`), WebAssembly `application/wasm`
/// (needed for streaming compilation), source maps JSON (mime_guess: `text/plain`), XML
/// `application/xml` (RFC 7303 prefers it to `text/xml`), fonts their RFC 8081 `font/*`
/// types (mime_guess: `application/font-woff`, `application/font-sfnt`).
const OVERRIDES: &[(&str, &str)] = &[
    ("js", "text/javascript"),
    ("mjs", "text/javascript"),
    ("cjs", "text/javascript"),
    ("wasm", "application/wasm"),
    ("map", "application/json"),
    ("xml", "application/xml"),
    ("woff", "font/woff"),
    ("otf", "font/otf"),
];

/// The content type of `key` (an S3 key or path), `application/octet-stream` if unknown.
/// Text types carry `charset=utf-8`: without it browsers guess, and guess wrong for UTF-8.
pub fn for_key(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    let Some((_, ext)) = name.rsplit_once('.') else { return "application/octet-stream".into() };
    let ext = ext.to_ascii_lowercase();
    let base = match OVERRIDES.iter().find(|(e, _)| *e == ext) {
        Some((_, t)) => *t,
        None => mime_guess::from_ext(&ext).first_raw().unwrap_or("application/octet-stream"),
    };
    if base.starts_with("text/") { format!("{base}; charset=utf-8") } else { base.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_required_types_are_answered() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("a/b.CSS", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("m.mjs", "text/javascript; charset=utf-8"),
            ("d.json", "application/json"),
            ("app.js.map", "application/json"),
            ("i.svg", "image/svg+xml"),
            ("i.png", "image/png"),
            ("i.jpg", "image/jpeg"),
            ("i.webp", "image/webp"),
            ("i.avif", "image/avif"),
            ("i.gif", "image/gif"),
            ("favicon.ico", "image/x-icon"),
            ("f.woff", "font/woff"),
            ("f.woff2", "font/woff2"),
            ("f.ttf", "font/ttf"),
            ("f.otf", "font/otf"),
            ("c.cjs", "text/javascript; charset=utf-8"),
            ("README.md", "text/markdown; charset=utf-8"),
            ("site.webmanifest", "application/manifest+json"),
            ("robots.txt", "text/plain; charset=utf-8"),
            ("sitemap.xml", "application/xml"),
            ("m.wasm", "application/wasm"),
            ("doc.pdf", "application/pdf"),
            ("LICENSE", "application/octet-stream"),
            (".well-known/x.unknownext", "application/octet-stream"),
        ];
        for (key, want) in cases {
            assert_eq!(for_key(key), want, "{key}");
        }
    }

    /// Extensions the old built-in table of 40 lacked (each was served as
    /// `application/octet-stream`, which browsers download instead of showing).
    #[test]
    fn types_the_old_table_lacked_come_from_mime_guess() {
        let cases = [
            ("report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ("photo.heic", "image/heic"),
            ("clip.mov", "video/quicktime"),
            ("feed.ics", "text/calendar; charset=utf-8"),
            ("data.yaml", "text/x-yaml; charset=utf-8"),
            ("a.tiff", "image/tiff"),
            ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("song.flac", "audio/flac"),
            ("app.apk", "application/vnd.android.package-archive"),
            ("book.epub", "application/epub+zip"),
            ("vector.eps", "application/postscript"),
            ("a.jsonld", "application/ld+json"),
        ];
        for (key, want) in cases {
            assert_eq!(for_key(key), want, "{key}");
        }
    }
}
