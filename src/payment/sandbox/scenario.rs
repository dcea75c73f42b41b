//! The sandbox's magic barcodes: the last three digits of a valid-looking code (16–24 digits starting
//! 25–30) choose what happens. docs/payment.md lists them for users; tests use [`code_for`].

/// What the sandbox does with a payment, chosen by the scanned code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `…000` and any unlisted suffix: paid at once.
    Success,
    /// `…101/102/103/104`: refused with this code (F).
    Refuse(&'static str),
    /// `…201`: PAYMENT_IN_PROCESS; the customer confirms after 2 queries.
    ConfirmLater,
    /// `…202`: PAYMENT_IN_PROCESS; the customer never confirms.
    NeverConfirm,
    /// `…203`: PAYMENT_IN_PROCESS; the customer declines in the app, so the order closes unpaid.
    Declined,
    /// `…301`: UNKNOWN_EXCEPTION, but the money was taken.
    UnknownButPaid,
    /// `…401`: taken, but the answer comes only after the sandbox's slow delay (a client timeout).
    Slow,
    /// `…402`: slow answer, and the first 2 queries overtake the pay (ORDER_NOT_EXIST), then paid.
    Race,
    /// `…403`: slow answer and the pay never arrived: ORDER_NOT_EXIST for good.
    Lost,
    /// `…501`: UNKNOWN_EXCEPTION, never confirmed, and every cancel answers U.
    CancelStuck,
    /// `…601`: paid, but the pay answer's signature is broken (tampered).
    Tampered,
    /// `…602`: paid, but the pay answer is a correctly signed S for another merchantTransId (with
    /// another acquirementId): the client must not take it for this payment.
    ForeignAnswer,
    /// `…603`: paid in full, but the pay answer is a correctly signed S with `payAmount` 0.01.
    WrongPayAmount,
    /// `…604`: paid; the first answer to each refund is a correctly signed S for another
    /// merchantRefundId (the refund is made): the client must not take it for its refund.
    ForeignRefund,
    /// `…605`: paid, but the pay answer is a correctly signed S whose orderAmount is in another currency.
    WrongCurrency,
    /// `…701`: UNKNOWN_EXCEPTION; paid two days ago (past the cancel window); hidden from the first 3 queries.
    PastWindow,
    /// `…801`: paid; each refund answers U twice before it succeeds.
    RefundFlaky,
}

/// How many queries answer ORDER_NOT_EXIST before the order shows.
pub fn hidden_queries(s: Scenario) -> u32 {
    match s {
        Scenario::Race => 2,
        Scenario::PastWindow => 3,
        _ => 0,
    }
}

/// Whether `code` looks like an Alipay user code (16–24 digits starting 25–30).
pub fn looks_valid(code: &str) -> bool {
    let ok_len = (16..=24).contains(&code.len());
    let ok_digits = code.bytes().all(|b| b.is_ascii_digit());
    ok_len && ok_digits && matches!(&code[..2], "25" | "26" | "27" | "28" | "29" | "30")
}

/// The scenario of a scanned code (an invalid-looking code is INVALID_CODE).
pub fn of(code: &str) -> Scenario {
    if !looks_valid(code) {
        return Scenario::Refuse("INVALID_CODE");
    }
    of_suffix(&code[code.len() - 3..])
}

/// The scenario of a code's last three digits (what the sandbox stores).
pub fn of_suffix(suffix: &str) -> Scenario {
    match suffix {
        "101" => Scenario::Refuse("USER_BALANCE_NOT_ENOUGH"),
        "102" => Scenario::Refuse("INVALID_CODE"),
        "103" => Scenario::Refuse("EXPIRED_CODE"),
        "104" => Scenario::Refuse("RISK_REJECT"),
        "201" => Scenario::ConfirmLater,
        "202" => Scenario::NeverConfirm,
        "203" => Scenario::Declined,
        "301" => Scenario::UnknownButPaid,
        "401" => Scenario::Slow,
        "402" => Scenario::Race,
        "403" => Scenario::Lost,
        "501" => Scenario::CancelStuck,
        "601" => Scenario::Tampered,
        "602" => Scenario::ForeignAnswer,
        "603" => Scenario::WrongPayAmount,
        "604" => Scenario::ForeignRefund,
        "605" => Scenario::WrongCurrency,
        "701" => Scenario::PastWindow,
        "801" => Scenario::RefundFlaky,
        _ => Scenario::Success,
    }
}

/// An 18-digit sandbox code ending in `suffix` (three digits), unique per call.
pub fn code_for(suffix: &str) -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000;
    format!("28{n:013}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_choose_scenarios() {
        assert_eq!(of(&code_for("000")), Scenario::Success);
        assert_eq!(of(&code_for("101")), Scenario::Refuse("USER_BALANCE_NOT_ENOUGH"));
        assert_eq!(of(&code_for("402")), Scenario::Race);
        assert_eq!(of("123"), Scenario::Refuse("INVALID_CODE"));
        assert_eq!(of_suffix("201"), Scenario::ConfirmLater);
        assert_eq!(of("2400000000000000000"), Scenario::Refuse("INVALID_CODE"));
        assert!(looks_valid("2500000000000000") && !looks_valid("25000000000000000000000000"));
        assert_eq!(code_for("000").len(), 18);
    }
}
