runmeta::metadata_keys! {
    pub mod org_keys {
        ticket_id: String,
        ticket_id: String,
        TicketType: String,
        cost: f64,
        customer_id: Option<String>,
    }
}

fn main() {}
