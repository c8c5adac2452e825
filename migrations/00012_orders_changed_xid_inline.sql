-- +goose Up

-- The statements that write orders set changed_xid themselves (it costs
-- nothing there); a PL/pgSQL trigger per order row cost about a tenth of
-- order processing's throughput. Products keep their trigger: they are
-- written by more paths and far less often.
DROP TRIGGER orders_changed_xid ON orders;

-- +goose Down
CREATE TRIGGER orders_changed_xid BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION remarket_stamp_changed_xid();
