-- plain: the backorder tables with no triggers at all, the limit a trigger-based engine can
-- approach. The client inserts only (order_ref, sku, qty); the maintained columns get
-- constant defaults.
ALTER TABLE plain.order_line
    ALTER line_id         SET DEFAULT nextval('plain.order_line_line_id_seq'),
    ALTER allocated_qty   SET DEFAULT 0,
    ALTER backordered_qty SET DEFAULT 0,
    ALTER shipped_qty     SET DEFAULT 0,
    ALTER cancelled_qty   SET DEFAULT 0,
    ALTER status          SET DEFAULT 'backordered',
    ALTER placed_at       SET DEFAULT now();
ALTER TABLE plain.receipt
    ALTER received_at   SET DEFAULT now(),
    ALTER allocated_qty SET DEFAULT 0;
ALTER TABLE plain.shipment
    ALTER shipped_at SET DEFAULT now();
