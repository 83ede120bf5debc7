//! The HRESULT values a function of the library returns (docs/icf-api.md §5.1). The error classes
//! of the daemon come from `fw6_model::ErrorKind::hresult` (the unit test below pins them);
//! `E_POINTER` and `E_OUTOFMEMORY` only happen at the C boundary.
#![expect(
    clippy::cast_possible_wrap,
    reason = "the failure codes are the unsigned bit patterns the ICF documents, wrapped to a \
              negative int32_t on purpose; `as` is the cast cbindgen can write into the header"
)]

/// A COM `HRESULT`: negative on failure, `FW6_S_OK` or `FW6_S_FALSE` on success.
pub type Hresult = i32;

/// Success.
pub const FW6_S_OK: Hresult = 0;
/// Success with less than asked: an enumerator's `next` or `skip` reached the end.
pub const FW6_S_FALSE: Hresult = 1;
/// `E_ABORT`: the confirmation step was declined. Nothing was changed.
pub const FW6_E_ABORT: Hresult = 0x8000_4004_u32 as Hresult;
/// `E_FAIL`: the kernel or the daemon's store refused; the message keeps their words.
pub const FW6_E_FAIL: Hresult = 0x8000_4005_u32 as Hresult;
/// `E_INVALIDARG`: an argument is malformed or out of range (a port of 0, a protocol other than
/// 6 or 17, a name or path that is not valid UTF-8 or too long, an unknown connection).
pub const FW6_E_INVALIDARG: Hresult = 0x8007_0057_u32 as Hresult;
/// `E_ACCESSDENIED`: polkit refused the state-changing call.
pub const FW6_E_ACCESSDENIED: Hresult = 0x8007_0005_u32 as Hresult;
/// `E_NOTIMPL`: the member is switched off in the daemon's configuration.
pub const FW6_E_NOTIMPL: Hresult = 0x8000_4001_u32 as Hresult;
/// `E_OUTOFMEMORY`: an allocation failed.
pub const FW6_E_OUTOFMEMORY: Hresult = 0x8007_000E_u32 as Hresult;
/// `E_POINTER`: a required pointer is null, or a handle is not a live handle of the right kind.
pub const FW6_E_POINTER: Hresult = 0x8000_4003_u32 as Hresult;
/// `E_UNEXPECTED`: fw6d cannot be reached, answered something impossible, or the library failed
/// inside (a caught panic).
pub const FW6_E_UNEXPECTED: Hresult = 0x8000_FFFF_u32 as Hresult;

#[cfg(test)]
mod tests {
    use fw6::ErrorKind;

    use super::*;

    #[test]
    fn the_constants_are_the_models_hresults() {
        for kind in ErrorKind::ALL {
            let ours = match kind {
                ErrorKind::InvalidArg => FW6_E_INVALIDARG,
                ErrorKind::AccessDenied => FW6_E_ACCESSDENIED,
                ErrorKind::Aborted => FW6_E_ABORT,
                ErrorKind::Fail => FW6_E_FAIL,
                ErrorKind::Unexpected => FW6_E_UNEXPECTED,
                ErrorKind::NotImpl => FW6_E_NOTIMPL,
            };
            assert_eq!(ours.cast_unsigned(), kind.hresult().0, "{kind:?}");
        }
        assert_eq!(FW6_E_POINTER.cast_unsigned(), 0x8000_4003);
        assert_eq!(FW6_E_OUTOFMEMORY.cast_unsigned(), 0x8007_000E);
    }
}
