package orderstream.connect;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.header.ConnectHeaders;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.StringConverter;
import org.apache.kafka.connect.transforms.DropHeaders;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.debezium.data.Envelope;
import io.debezium.transforms.outbox.EventRouter;

/** The transform alone, and chained as the connector configuration chains it: Debezium's
 * outbox event router, then this transform, then Kafka's DropHeaders of the router's id. */
class OutboxHeadersTest {

    private static final String HEADERS = "{\"ce_id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\","
            + "\"ce_type\":\"orderstream.orders.OrderPlaced.v1\",\"ce_source\":\"/orderstream/orders\","
            + "\"ce_specversion\":\"1.0\",\"ce_time\":\"2026-12-07T10:00:00.123456+00:00\","
            + "\"content-type\":\"application/json\","
            + "\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}";
    private static final String PAYLOAD = "{\"order_id\":\"o-1\",\"note\":\"caf\u00e9 \u2615\"}";
    private static final Schema JSON = SchemaBuilder.string().name("io.debezium.data.Json").build();
    private static final Schema ROW = SchemaBuilder.struct().name("orderstream.orders.outbox.Value")
            .field("id", SchemaBuilder.string().name("io.debezium.data.Uuid").build())
            .field("aggregatetype", Schema.STRING_SCHEMA)
            .field("aggregateid", Schema.STRING_SCHEMA)
            .field("type", Schema.STRING_SCHEMA)
            .field("payload", JSON)
            .field("headers", JSON)
            .field("topic", Schema.STRING_SCHEMA)
            .build();
    private static final Schema SOURCE = SchemaBuilder.struct().name("source")
            .field("db", Schema.STRING_SCHEMA).build();
    private static final Envelope ENVELOPE = Envelope.defineSchema()
            .withName("orderstream.orders.outbox.Envelope").withRecord(ROW).withSource(SOURCE).build();

    private final EventRouter<SourceRecord> router = new EventRouter<>();
    private final OutboxHeaders<SourceRecord> spread = new OutboxHeaders<>();
    private final DropHeaders<SourceRecord> drop = new DropHeaders<>();
    private final StringConverter converter = new StringConverter();

    @BeforeEach
    void configure() {
        router.configure(Map.of(
                "route.by.field", "topic",
                "route.topic.replacement", "${routedByValue}",
                "table.field.event.id", "id",
                "table.field.event.key", "aggregateid",
                "table.field.event.payload", "payload",
                "table.fields.additional.placement", "headers:header:headers"));
        spread.configure(Map.of());
        drop.configure(Map.of("headers", "id"));
        converter.configure(Map.of(), false);
    }

    @AfterEach
    void close() {
        router.close();
        spread.close();
        drop.close();
    }

    @Test
    void spreadsTheObjectIntoOneStringHeaderPerEntryInItsOrder() {
        ConnectHeaders headers = new ConnectHeaders();
        headers.addString("kept", "as it was");
        headers.addString("headers", HEADERS);
        SourceRecord record = new SourceRecord(Map.of(), Map.of(), "orders", 0,
                Schema.STRING_SCHEMA, "o-1", JSON, PAYLOAD, 42L, headers);

        SourceRecord spreadOut = spread.apply(record);

        assertEquals(List.of("kept", "ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time",
                "content-type", "traceparent"), names(spreadOut));
        assertEquals("orders", spreadOut.topic());
        assertEquals(0, spreadOut.kafkaPartition());
        assertEquals("o-1", spreadOut.key());
        assertEquals(PAYLOAD, spreadOut.value());
        assertEquals(42L, spreadOut.timestamp());
        assertEquals(Schema.STRING_SCHEMA, spreadOut.headers().lastWithName("ce_type").schema());
        assertEquals(2, record.headers().size(), "the input record is left as it was");
    }

    @Test
    void theChainWritesTheRelaysKeyValueAndHeaderBytes() {
        SourceRecord record = drop.apply(spread.apply(router.apply(created(HEADERS))));

        assertEquals("orders", record.topic());
        assertArrayEquals("o-1".getBytes(StandardCharsets.UTF_8),
                converter.fromConnectData("orders", record.keySchema(), record.key()));
        assertArrayEquals(PAYLOAD.getBytes(StandardCharsets.UTF_8),
                converter.fromConnectData("orders", record.valueSchema(), record.value()));
        assertEquals(List.of("ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time",
                "content-type", "traceparent"), names(record));
        for (Header header : record.headers()) {
            String expected = header.key().equals("ce_type") ? "orderstream.orders.OrderPlaced.v1"
                    : header.key().equals("traceparent")
                            ? "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" : null;
            if (expected != null) {
                assertArrayEquals(expected.getBytes(StandardCharsets.UTF_8), converter
                        .fromConnectHeader("orders", header.key(), header.schema(), header.value()));
            }
        }
    }

    @Test
    void aHeaderValueOutsideAsciiKeepsItsUtf8Bytes() {
        SourceRecord record = spread.apply(router.apply(created("{\"ce_source\":\"/caf\u00e9\"}")));

        Header header = record.headers().lastWithName("ce_source");
        assertArrayEquals("/caf\u00e9".getBytes(StandardCharsets.UTF_8),
                converter.fromConnectHeader("orders", "ce_source", header.schema(), header.value()));
    }

    @Test
    void theRouterDropsTheDeleteOfARowWrittenAndDeletedInOneTransaction() {
        Struct key = new Struct(ROW).put("id", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
                .put("aggregatetype", "Order").put("aggregateid", "o-1").put("type", "OrderPlaced")
                .put("payload", PAYLOAD).put("headers", HEADERS).put("topic", "orders");
        Struct deleted = ENVELOPE.delete(key, source(), Instant.now());
        SourceRecord delete = new SourceRecord(Map.of(), Map.of(), "orderstream.orders.outbox", null,
                null, null, ENVELOPE.schema(), deleted);
        SourceRecord tombstone = new SourceRecord(Map.of(), Map.of(), "orderstream.orders.outbox", null,
                null, null, null, null);

        assertNull(router.apply(delete));
        assertNull(router.apply(tombstone));
    }

    @Test
    void aRecordWithoutTheHeaderIsAnErrorNotARecordWithoutHeaders() {
        SourceRecord record = new SourceRecord(Map.of(), Map.of(), "orders", null,
                Schema.STRING_SCHEMA, "o-1", JSON, PAYLOAD);

        DataException error = assertThrows(DataException.class, () -> spread.apply(record));
        assertTrue(error.getMessage().contains("has no header 'headers'"), error.getMessage());
    }

    @Test
    void anythingButAJsonObjectOfStringsIsAnError() {
        for (String text : List.of("not json", "[\"ce_id\"]", "{\"ce_id\":7}", "{\"ce_id\":null}",
                "{\"ce_id\":\"a\"")) {
            ConnectHeaders headers = new ConnectHeaders();
            headers.addString("headers", text);
            SourceRecord record = new SourceRecord(Map.of(), Map.of(), "orders", null,
                    Schema.STRING_SCHEMA, "o-1", JSON, PAYLOAD, null, headers);

            assertThrows(DataException.class, () -> spread.apply(record), text);
        }
    }

    @Test
    void theHeaderItReadsIsConfigurable() {
        spread.configure(Map.of(OutboxHeaders.HEADER_CONFIG, "outbox_headers"));
        ConnectHeaders headers = new ConnectHeaders();
        headers.addString("outbox_headers", "{\"ce_id\":\"x\"}");
        SourceRecord record = new SourceRecord(Map.of(), Map.of(), "orders", null,
                Schema.STRING_SCHEMA, "o-1", JSON, PAYLOAD, null, headers);

        assertEquals(List.of("ce_id"), names(spread.apply(record)));
    }

    private static SourceRecord created(String headersColumn) {
        Struct row = new Struct(ROW).put("id", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
                .put("aggregatetype", "Order").put("aggregateid", "o-1").put("type", "OrderPlaced")
                .put("payload", PAYLOAD).put("headers", headersColumn).put("topic", "orders");
        return new SourceRecord(Map.of(), Map.of(), "orderstream.orders.outbox", null, null, null,
                ENVELOPE.schema(), ENVELOPE.create(row, source(), Instant.now()));
    }

    private static Struct source() {
        return new Struct(SOURCE).put("db", "orderstream");
    }

    private static List<String> names(SourceRecord record) {
        List<String> names = new ArrayList<>();
        for (Header header : record.headers()) {
            names.add(header.key());
        }
        return names;
    }
}
