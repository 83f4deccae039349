package orderstream.connect;

import java.util.Iterator;
import java.util.Map;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.header.Headers;
import org.apache.kafka.connect.transforms.Transformation;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Spreads one header that holds a JSON object of strings into one header per entry.
 *
 * <p>orderstream's outbox keeps a message's Kafka headers (the CloudEvents {@code ce_*}
 * attributes, {@code content-type}, {@code traceparent}) as one JSON object in its
 * {@code headers} column. Debezium's outbox event router can place a column as a header,
 * but only whole: this transform, chained after it, replaces that header with the
 * object's entries, in the object's order, each a STRING header with the entry's text,
 * so that the worker's StringConverter writes the same UTF-8 bytes as orderstream's own
 * relay.
 *
 * <p>Anything else is a {@link DataException}, never a record without its headers: a
 * missing header, text that is not a JSON object, an entry that is not a string.
 */
public final class OutboxHeaders<R extends ConnectRecord<R>> implements Transformation<R> {

    public static final String HEADER_CONFIG = "header";

    public static final ConfigDef CONFIG_DEF = new ConfigDef()
            .define(HEADER_CONFIG, ConfigDef.Type.STRING, "headers",
                    new ConfigDef.NonEmptyString(), ConfigDef.Importance.HIGH,
                    "The header that holds the JSON object (the outbox's headers column, "
                            + "placed by the outbox event router); it is replaced by its entries.");

    private static final ObjectMapper JSON = new ObjectMapper();

    private String header = "headers";

    @Override
    public void configure(Map<String, ?> configs) {
        Object value = CONFIG_DEF.parse(configs).get(HEADER_CONFIG);
        if (!(value instanceof String name)) {
            throw new ConfigException(HEADER_CONFIG, value, "must be a header name");
        }
        header = name;
    }

    @Override
    public R apply(R record) {
        Header source = record.headers().lastWithName(header);
        if (source == null) {
            throw new DataException("record for " + record.topic() + " has no header '" + header
                    + "': place the outbox's headers column there (table.fields.additional."
                    + "placement=headers:header:" + header + ")");
        }
        Headers headers = record.headers().duplicate().remove(header);
        Iterator<Map.Entry<String, JsonNode>> entries = object(source.value()).fields();
        while (entries.hasNext()) {
            Map.Entry<String, JsonNode> entry = entries.next();
            if (!entry.getValue().isTextual()) {
                throw new DataException("header entry '" + entry.getKey() + "' of '" + header
                        + "' is " + entry.getValue().getNodeType() + ", not a string");
            }
            headers.add(entry.getKey(), entry.getValue().textValue(), Schema.STRING_SCHEMA);
        }
        return record.newRecord(record.topic(), record.kafkaPartition(), record.keySchema(),
                record.key(), record.valueSchema(), record.value(), record.timestamp(), headers);
    }

    private JsonNode object(Object value) {
        if (!(value instanceof String text)) {
            throw new DataException("header '" + header + "' must hold JSON text, not "
                    + (value == null ? "null" : value.getClass().getSimpleName()));
        }
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException error) {
            throw new DataException("header '" + header + "' is not JSON: "
                    + error.getOriginalMessage(), error);
        }
        if (node == null || !node.isObject()) {
            throw new DataException("header '" + header + "' must be a JSON object");
        }
        return node;
    }

    @Override
    public ConfigDef config() {
        return CONFIG_DEF;
    }

    @Override
    public void close() {
    }
}
