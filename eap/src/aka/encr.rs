//! AT_ENCR_DATA (RFC 4187 §10.12, RFC 9048 §3): AES-128 in CBC mode with
//! K_encr and the 16-byte AT_IV, no cipher padding.
//!
//! The plaintext is a run of attributes that the codec pads with AT_PADDING to
//! a multiple of 16 bytes before encryption (RFC 4187 §10.12); these functions
//! only check the length: a non-empty multiple of the AES block size, anything
//! else is an [`EncrError`]. The caller must check AT_MAC before decrypting
//! (CBC gives no integrity).

use crate::secret::KEncr;
use aes::Aes128;
use cbc::cipher::array::Array;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use zeroize::Zeroizing;

/// The AES block size; AT_ENCR_DATA is a multiple of it.
pub const BLOCK_LEN: usize = 16;

/// AT_ENCR_DATA content of the wrong length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncrError {
    /// Nothing to encrypt or decrypt (RFC 4187 §10.12: the value is at least one block).
    #[error("AT_ENCR_DATA is empty")]
    Empty,
    /// The length is not a multiple of 16 bytes.
    #[error("AT_ENCR_DATA is {0} bytes, not a multiple of 16")]
    NotBlockMultiple(usize),
}

fn check_len(len: usize) -> Result<(), EncrError> {
    if len == 0 {
        Err(EncrError::Empty)
    } else if !len.is_multiple_of(BLOCK_LEN) {
        Err(EncrError::NotBlockMultiple(len))
    } else {
        Ok(())
    }
}

/// Encrypts the (already AT_PADDING-padded) attribute bytes with
/// AES-128-CBC(K_encr, IV).
///
/// # Errors
/// [`EncrError`] when `plaintext` is empty or not a multiple of 16 bytes.
pub fn encrypt(k_encr: &KEncr, iv: &[u8; 16], plaintext: &[u8]) -> Result<Vec<u8>, EncrError> {
    let mut buf = plaintext.to_vec();
    encrypt_in_place(k_encr, iv, &mut buf)?;
    Ok(buf)
}

/// Decrypts AT_ENCR_DATA with AES-128-CBC(K_encr, IV). The result is
/// zeroized on drop (it holds pseudonyms, re-authentication identities,
/// NONCE_S).
///
/// # Errors
/// [`EncrError`] when `ciphertext` is empty or not a multiple of 16 bytes.
pub fn decrypt(
    k_encr: &KEncr,
    iv: &[u8; 16],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EncrError> {
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    decrypt_in_place(k_encr, iv, &mut buf)?;
    Ok(buf)
}

/// [`encrypt`] in place.
///
/// # Errors
/// [`EncrError`] when `buf` is empty or not a multiple of 16 bytes; `buf` is
/// then unchanged.
pub fn encrypt_in_place(k_encr: &KEncr, iv: &[u8; 16], buf: &mut [u8]) -> Result<(), EncrError> {
    check_len(buf.len())?;
    let mut c = cbc::Encryptor::<Aes128>::new(k_encr.expose().into(), iv.into());
    // One call for all blocks: the AES backend prepares its round keys once
    // per call (the VAES backends broadcast them), not once per block.
    c.encrypt_blocks(Array::cast_slice_from_core_mut(
        buf.as_chunks_mut::<BLOCK_LEN>().0,
    ));
    Ok(())
}

/// [`decrypt`] in place.
///
/// # Errors
/// [`EncrError`] when `buf` is empty or not a multiple of 16 bytes; `buf` is
/// then unchanged.
pub fn decrypt_in_place(k_encr: &KEncr, iv: &[u8; 16], buf: &mut [u8]) -> Result<(), EncrError> {
    check_len(buf.len())?;
    let mut c = cbc::Decryptor::<Aes128>::new(k_encr.expose().into(), iv.into());
    c.decrypt_blocks(Array::cast_slice_from_core_mut(
        buf.as_chunks_mut::<BLOCK_LEN>().0,
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// NIST SP 800-38A F.2.1 CBC-AES128.Encrypt / F.2.2 Decrypt.
    #[test]
    fn nist_sp800_38a_f2_1() {
        let key = KEncr::from_slice(&h("2b7e151628aed2a6abf7158809cf4f3c")).unwrap();
        let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let pt = h(concat!(
            "6bc1bee22e409f96e93d7e117393172a",
            "ae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52ef",
            "f69f2445df4f9b17ad2b417be66c3710"
        ));
        let ct = h(concat!(
            "7649abac8119b246cee98e9b12e9197d",
            "5086cb9b507219ee95db113a917678b2",
            "73bed6b8e3c1743b7116e69e22229516",
            "3ff1caa1681fac09120eca307586e1a7"
        ));
        assert_eq!(encrypt(&key, &iv, &pt).unwrap(), ct);
        assert_eq!(&decrypt(&key, &iv, &ct).unwrap()[..], &pt[..]);
        // One block at a time chains through the IV as expected.
        assert_eq!(encrypt(&key, &iv, &pt[..16]).unwrap(), ct[..16]);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let key = KEncr::new([1; 16]);
        let iv = [2; 16];
        assert_eq!(encrypt(&key, &iv, &[]), Err(EncrError::Empty));
        assert_eq!(decrypt(&key, &iv, &[]).unwrap_err(), EncrError::Empty);
        for len in [1, 15, 17, 31, 33, 100] {
            let data = vec![0u8; len];
            assert_eq!(
                encrypt(&key, &iv, &data),
                Err(EncrError::NotBlockMultiple(len))
            );
            assert_eq!(
                decrypt(&key, &iv, &data).unwrap_err(),
                EncrError::NotBlockMultiple(len)
            );
            let mut buf = data.clone();
            assert!(encrypt_in_place(&key, &iv, &mut buf).is_err());
            assert_eq!(buf, data);
        }
    }

    proptest! {
        #[test]
        fn round_trip(key in any::<[u8; 16]>(), iv in any::<[u8; 16]>(),
                      blocks in 1usize..8, seed in any::<u8>()) {
            let key = KEncr::new(key);
            let pt: Vec<u8> = (0..blocks * 16).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
            let ct = encrypt(&key, &iv, &pt).unwrap();
            prop_assert_eq!(ct.len(), pt.len());
            prop_assert_ne!(&ct, &pt);
            prop_assert_eq!(&decrypt(&key, &iv, &ct).unwrap()[..], &pt[..]);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let key = KEncr::new([7; 16]);
            let r = decrypt(&key, &[0; 16], &data);
            prop_assert_eq!(r.is_ok(), !data.is_empty() && data.len().is_multiple_of(16));
        }
    }
}
