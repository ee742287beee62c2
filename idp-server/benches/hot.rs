//! The hot pure functions: token signing and verification per algorithm, TOTP verification,
//! argon2id at the default (OWASP) parameters, which is the floor of a password sign-in, and a
//! page rendered with its words from the catalogues.
//! Run: `cargo bench -p idp-server`.
// A benchmark that cannot set itself up has nothing to measure: it stops there.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use idp_server::keys::{Keyring, SigningAlg};
use idp_server::tokens::{verify_access_token, verify_access_token_signature, AccessTokenClaims};

fn keyring() -> Keyring {
    let store =
        idp_core::Store::open("sqlite::memory:", idp_core::PoolOptions::default()).expect("store");
    store.migrate().expect("migrate");
    let settings = idp_core::Settings {
        argon2: idp_core::Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        ..Default::default()
    };
    let idp = idp_core::Idp::new(
        store,
        idp_core::SecretBox::new(&[1u8; 32], &[]),
        settings,
        Arc::new(idp_core::SystemClock),
    )
    .expect("idp");
    Keyring::load_or_create(&idp, 600).expect("keys")
}

fn claims() -> AccessTokenClaims {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    AccessTokenClaims::sample("http://127.0.0.1:8080", now)
}

fn sign(keys: &Keyring, alg: SigningAlg, typ: &str) -> String {
    keys.signer(alg)
        .expect("signer")
        .sign_jwt(typ, &claims())
        .expect("sign")
}

fn tokens(c: &mut Criterion) {
    let keys = keyring();
    for alg in SigningAlg::ALL {
        c.bench_function(&format!("sign {}", alg.as_str()), |b| {
            b.iter(|| sign(&keys, alg, "at+jwt"))
        });
        let token = sign(&keys, alg, "at+jwt");
        c.bench_function(&format!("verify {}", alg.as_str()), |b| {
            b.iter(|| {
                verify_access_token_signature(&token, &keys, "http://127.0.0.1:8080")
                    .expect("valid")
            })
        });
    }
    let token = sign(&keys, SigningAlg::Rs256, "at+jwt");
    let remembered = idp_server::tokens::VerifiedAccessTokens::default();
    c.bench_function(
        "verify RS256, remembered (a repeated /userinfo token)",
        |b| {
            b.iter(|| {
                verify_access_token(&token, &keys, "http://127.0.0.1:8080", &remembered)
                    .expect("valid")
            })
        },
    );
}

fn totp(c: &mut Criterion) {
    let secret = [7u8; 20];
    let now = 1_800_000_000i64;
    c.bench_function("totp verify (drift ±1, no match)", |b| {
        b.iter(|| idp_core::mfa::matching_step(&secret, "000000", now, 1).expect("totp"))
    });
    c.bench_function("totp normalise code", |b| {
        b.iter(|| idp_core::mfa::normalise_code("123 456").expect("code"))
    });
}

fn argon2(c: &mut Criterion) {
    let hasher =
        idp_core::password::PasswordHasher::new(idp_core::Argon2Params::default()).expect("hasher");
    let phc = hasher.hash("correct horse battery staple").expect("hash");
    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1");
    group.sample_size(20);
    group.bench_function("verify", |b| {
        b.iter(|| hasher.verify(&phc, "correct horse battery staple"))
    });
    // The machine's real ceiling: one verification per core at the same time. Memory-hard
    // hashing shares the memory bandwidth and caches, so this is slower than one core's time
    // would suggest; a sign-in storm can at best reach this rate. (bench/run.sh divides the
    // core count by this time.)
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    group.bench_function(format!("verify on {cores} cores at once"), |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                for _ in 0..cores {
                    scope.spawn(|| hasher.verify(&phc, "correct horse battery staple"));
                }
            })
        })
    });
    group.finish();
}

/// A page in words: the sign-in page and the enrollment page (the one with the most messages)
/// rendered with their words from the catalogues, in each language.
fn pages(c: &mut Criterion) {
    use askama::Template;
    use idp_server::i18n::{Lang, Tr};
    use idp_server::web::pages::{EnrollPage, Frame, LoginPage};
    let brand = idp_server::config::Brand {
        product: "Petrosoft Cloud".into(),
        logo: None,
        theme: None,
    };
    for lang in Lang::ALL {
        let t = Tr::new(lang);
        c.bench_function(&format!("render sign-in page ({})", lang.tag()), |b| {
            b.iter(|| {
                LoginPage {
                    f: Frame::new(t, &brand),
                    client_name: Some("CStoreOffice"),
                    csrf: "csrf-token",
                    email: "ann@example.com",
                    error: Some("The email or password is not correct."),
                    notice: None,
                }
                .render()
            })
        });
        c.bench_function(&format!("render enrollment page ({})", lang.tag()), |b| {
            b.iter(|| {
                EnrollPage {
                    f: Frame::new(t, &brand),
                    csrf: "csrf-token",
                    email: "ann@example.com",
                    qr_svg: "<svg></svg>",
                    activation_code: "ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567",
                    error: None,
                }
                .render()
            })
        });
    }
}

criterion_group!(benches, tokens, totp, argon2, pages);
criterion_main!(benches);
