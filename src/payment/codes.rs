//! Alipay result codes → what the cashier is told (plain language) and what the operator should do
//! (alipay-api.md, "Result codes"). One flat table; unknown codes get a safe generic answer.

/// What a result code means for the people at the till and in the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    /// Said to the cashier, who says it to the customer.
    pub cashier: &'static str,
    /// What the operator (or the program) does next.
    pub operator: &'static str,
    /// A new scan needs a new merchantTransId (true for customer-side failures).
    pub new_id_next_time: bool,
}

const fn c(code: &'static str, cashier: &'static str, operator: &'static str, new_id: bool) -> CodeInfo {
    CodeInfo { code, cashier, operator, new_id_next_time: new_id }
}

pub const TABLE: &[CodeInfo] = &[
    c("SUCCESS", "Payment received. Print the receipt.", "Nothing to do.", false),
    c("PAYMENT_IN_PROCESS", "Ask the customer to confirm the payment on their phone.", "Polling until the customer confirms or the wait ends.", false),
    c("UNKNOWN_EXCEPTION", "Please wait: checking whether the payment went through.", "Query, then cancel if still unknown; other calls are retried with the same ids.", false),
    c("REQUEST_TRAFFIC_EXCEED_LIMIT", "Alipay is busy. Please wait a moment.", "Back off and retry with the same ids.", false),
    c("ORDER_NOT_EXIST", "Please wait: checking whether the payment went through.", "After a pay timeout: re-query twice, then cancel.", false),
    c("PROCESS_FAIL", "The payment failed. Ask the customer to use another payment method.", "Manual review: look the transaction up in the Alipay portal.", true),
    c("PARAM_ILLEGAL", "Alipay payments are not working right now. Take another payment method.", "Integration fault (request parameters): alarm IT; do not retry.", true),
    c("ACCESS_DENIED", "Alipay payments are not working right now. Take another payment method.", "Configuration fault (access denied): check the merchant id and contract; do not retry.", true),
    c("KEY_NOT_FOUND", "Alipay payments are not working right now. Take another payment method.", "Configuration fault: Alipay has no public key for this Client ID; upload the merchant's public key; do not retry.", true),
    c("INVALID_SIGNATURE", "Alipay payments are not working right now. Take another payment method.", "Configuration fault: the request signature did not verify; check the private key of the active environment; do not retry.", true),
    c("INVALID_CLIENT", "Alipay payments are not working right now. Take another payment method.", "Configuration fault: check `client_id` of the active environment; do not retry.", true),
    c("INVALID_API", "Alipay payments are not working right now. Take another payment method.", "Configuration fault: check `api_base_url` (sandbox vs production); do not retry.", true),
    c("REPEAT_REQ_INCONSISTENT", "The payment could not be processed. Start a new payment.", "Bug: an id was reused with a different amount or currency; investigate.", true),
    c("USER_BALANCE_NOT_ENOUGH", "The customer's balance is not enough. Ask them to use another payment method.", "Nothing to do.", true),
    c("USER_AMOUNT_EXCEED_LIMIT", "The amount is over the customer's limit. Ask them to use another payment method.", "Nothing to do.", true),
    c("PAYMENT_AMOUNT_EXCEED_LIMIT", "The amount is over the payment limit. Ask the customer to use another payment method.", "Nothing to do.", true),
    c("INVALID_CODE", "The payment code is not valid. Ask the customer to refresh the code in the app and scan again.", "Nothing to do.", true),
    c("EXPIRED_CODE", "The payment code has expired. Ask the customer to refresh the code in the app and scan again.", "Nothing to do.", true),
    c("RISK_REJECT", "Alipay declined this payment. Ask the customer to use another payment method.", "Nothing to do; do not retry.", true),
    c("REGULATION_RESTRICTION", "Alipay declined this payment. Ask the customer to use another payment method.", "Nothing to do; do not retry.", true),
    c("USER_STATUS_ABNORMAL", "The customer's Alipay account cannot pay. Ask them to use another payment method.", "Nothing to do; do not retry.", true),
    c("ORDER_IS_CLOSED", "This payment was closed. Start a new payment.", "Nothing to do.", true),
    c("CANCEL_WINDOW_EXCEED", "Too late to cancel: the payment will be refunded instead.", "Query; if paid, refund.", false),
    c("REFUND_AMOUNT_EXCEED", "The refund is more than what is left to refund. Check the amount.", "Correct the amount.", false),
    c("REFUND_WINDOW_EXCEED", "This payment is too old to refund through Alipay.", "Refund the customer outside Alipay.", false),
];

/// The entry for `code`, or a generic one that tells the cashier to wait and the operator to look.
pub fn info(code: &str) -> CodeInfo {
    TABLE.iter().find(|i| i.code == code).copied().unwrap_or(CodeInfo {
        code: "OTHER",
        cashier: "The payment could not be completed. Ask the customer to use another payment method.",
        operator: "Unlisted result code: check the transaction in the Alipay portal and tell IT the code.",
        new_id_next_time: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_code_has_plain_messages() {
        let spec = "SUCCESS PAYMENT_IN_PROCESS UNKNOWN_EXCEPTION REQUEST_TRAFFIC_EXCEED_LIMIT ORDER_NOT_EXIST PROCESS_FAIL \
            PARAM_ILLEGAL ACCESS_DENIED KEY_NOT_FOUND INVALID_SIGNATURE INVALID_CLIENT INVALID_API REPEAT_REQ_INCONSISTENT \
            USER_BALANCE_NOT_ENOUGH USER_AMOUNT_EXCEED_LIMIT PAYMENT_AMOUNT_EXCEED_LIMIT INVALID_CODE EXPIRED_CODE RISK_REJECT \
            REGULATION_RESTRICTION USER_STATUS_ABNORMAL ORDER_IS_CLOSED CANCEL_WINDOW_EXCEED REFUND_AMOUNT_EXCEED REFUND_WINDOW_EXCEED";
        for code in spec.split_whitespace() {
            let i = info(code);
            assert_eq!(i.code, code, "{code} is in the table");
            // Plain language: no code names or jargon in what the cashier hears.
            assert!(!i.cashier.contains('_') && i.cashier.ends_with('.'), "{code}: {}", i.cashier);
        }
        assert_eq!(TABLE.len(), spec.split_whitespace().count());
        assert_eq!(info("NEW_CODE").code, "OTHER");
        assert!(info("INVALID_CODE").cashier.contains("refresh"));
    }
}
