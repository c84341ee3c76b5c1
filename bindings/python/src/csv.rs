//! Arrow tables (pandas, polars, pyarrow, anything with the Arrow PyCapsule stream
//! interface) as the CSV text the core reads.
//!
//! The core reads CSV bytes, so a table is written as the file it stands for: a header of
//! its column names, then one record per row, each value as its exact text. Strings go as
//! they are, integers as digits, decimals with exactly their type's scale, dates as
//! `YYYY-MM-DD`, timestamps with a time zone as RFC 3339 with its offset, timestamps without
//! one as `YYYY-MM-DD HH:MM:SS` (read in the rulebook's timezone, as SPEC says of that form),
//! nulls as empty fields. Every rule, reject and message is then the one the file would get.
//!
//! Floating-point columns are refused: Harmoni's numbers are exact, and a float cannot say
//! which decimal it stood for. Line numbers are those of the CSV text: row `i` (from 0) of
//! the table is line `i + 2`, as long as no value holds a line break.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal256Type, DecimalType, Int64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{ArrowError, DataType};
use harmoni::{Error, Location};

/// Below this many rows a batch is written by one thread: splitting costs more than it saves.
const ROWS_PER_THREAD_MIN: usize = 16 * 1024;

/// How values without a fast path are written: nulls empty, dates and timestamps as above.
const FORMAT: FormatOptions<'static> = FormatOptions::new()
    .with_null("")
    .with_date_format(Some("%Y-%m-%d"))
    .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
    .with_timestamp_tz_format(Some("%Y-%m-%dT%H:%M:%S%.f%:z"));

/// The error for a table that cannot be read as text, naming the column when there is one.
fn unusable(file: &str, column: Option<&str>, reason: String) -> Error {
    Error::File { at: Location { file: file.to_owned(), line: None, column: column.map(str::to_owned) }, reason }
}

/// Writes every batch of `reader` as CSV text. `threads` (0: every core) split large
/// batches; `between_batches` runs before each batch is read and may stop the run.
pub fn from_arrow(
    file: &str,
    reader: Box<dyn RecordBatchReader + Send>,
    threads: usize,
    mut between_batches: impl FnMut() -> Result<(), Error>,
) -> Result<Vec<u8>, Error> {
    let schema = reader.schema();
    for field in schema.fields() {
        refuse_floats(file, field.name(), field.data_type())?;
    }
    let mut out = Vec::new();
    for (i, field) in schema.fields().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_field(&mut out, field.name().as_bytes());
    }
    if schema.fields().len() == 1 && out.is_empty() {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let mut reader = reader;
    loop {
        between_batches()?;
        let Some(batch) = reader.next() else { break };
        let batch = batch.map_err(|e| unusable(file, None, format!("the table could not be read: {e}")))?;
        write_batch(file, &batch, threads, &mut out)?;
    }
    Ok(out)
}

fn refuse_floats(file: &str, name: &str, data_type: &DataType) -> Result<(), Error> {
    match data_type {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Err(unusable(
            file,
            Some(name),
            format!(
                "column '{name}' holds floating-point numbers ({data_type}), which cannot say which decimal they \
                 stood for: give it as decimals or text (pandas: read the CSV with dtype=str), or drop it"
            ),
        )),
        DataType::Dictionary(_, values) => refuse_floats(file, name, values),
        _ => Ok(()),
    }
}

/// One batch: split in row ranges written side by side, then appended in order.
fn write_batch(file: &str, batch: &RecordBatch, threads: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let names: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
    let columns = batch
        .columns()
        .iter()
        .zip(&names)
        .map(|(array, name)| prepare(array).map_err(|e| unusable(file, Some(name), e.to_string())))
        .collect::<Result<Vec<ArrayRef>, Error>>()?;
    let rows = batch.num_rows();
    let parts = threads.min(rows / ROWS_PER_THREAD_MIN).max(1);
    if parts == 1 {
        return write_rows(file, &names, &columns, 0, rows, out);
    }
    let step = rows.div_ceil(parts);
    let results: Vec<Result<Vec<u8>, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..rows)
            .step_by(step)
            .map(|start| {
                let (names, columns) = (&names, &columns);
                scope.spawn(move || {
                    let mut part = Vec::new();
                    write_rows(file, names, columns, start, step.min(rows - start), &mut part).map(|()| part)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("a CSV writer thread panicked".into()))))
            .collect()
    });
    for part in results {
        out.extend_from_slice(&part?);
    }
    Ok(())
}

/// A column in a shape with a fast path: dictionaries decoded, integers widened to 64 bits,
/// small decimals widened to 128 bits. Other types are kept for the generic formatter.
fn prepare(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let cast = |to: &DataType| arrow_cast::cast(array.as_ref(), to);
    match array.data_type() {
        DataType::Dictionary(_, values) => prepare(&cast(values)?),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => cast(&DataType::Int64),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => cast(&DataType::UInt64),
        DataType::Decimal32(_, scale) | DataType::Decimal64(_, scale) => cast(&DataType::Decimal128(38, *scale)),
        _ => Ok(Arc::clone(array)),
    }
}

/// How one column writes a value.
enum Column<'a> {
    Null,
    Text(Box<dyn Fn(usize) -> &'a [u8] + 'a>),
    Int64(&'a arrow_array::Int64Array),
    UInt64(&'a arrow_array::UInt64Array),
    Decimal128 { array: &'a arrow_array::Decimal128Array, scale: i8 },
    Decimal256 { array: &'a arrow_array::Decimal256Array, precision: u8, scale: i8 },
    Formatted(ArrayFormatter<'a>),
}

impl<'a> Column<'a> {
    fn new(array: &'a ArrayRef) -> Result<Column<'a>, ArrowError> {
        Ok(match array.data_type() {
            DataType::Null => Column::Null,
            DataType::Utf8 => {
                let a = array.as_string::<i32>();
                Column::Text(Box::new(move |i| a.value(i).as_bytes()))
            }
            DataType::LargeUtf8 => {
                let a = array.as_string::<i64>();
                Column::Text(Box::new(move |i| a.value(i).as_bytes()))
            }
            DataType::Utf8View => {
                let a = array.as_string_view();
                Column::Text(Box::new(move |i| a.value(i).as_bytes()))
            }
            // Bytes go as they are: a row that is not UTF-8 is rejected, as in a file.
            DataType::Binary => {
                let a = array.as_binary::<i32>();
                Column::Text(Box::new(move |i| a.value(i)))
            }
            DataType::LargeBinary => {
                let a = array.as_binary::<i64>();
                Column::Text(Box::new(move |i| a.value(i)))
            }
            DataType::BinaryView => {
                let a = array.as_binary_view();
                Column::Text(Box::new(move |i| a.value(i)))
            }
            DataType::Int64 => Column::Int64(array.as_primitive::<Int64Type>()),
            DataType::UInt64 => Column::UInt64(array.as_primitive::<UInt64Type>()),
            DataType::Decimal128(_, scale) => Column::Decimal128 { array: array.as_primitive(), scale: *scale },
            DataType::Decimal256(precision, scale) => {
                Column::Decimal256 { array: array.as_primitive(), precision: *precision, scale: *scale }
            }
            _ => Column::Formatted(ArrayFormatter::try_new(array.as_ref(), &FORMAT)?),
        })
    }

    /// Appends row `i`, which is not null, as one CSV field.
    fn write(&self, i: usize, out: &mut Vec<u8>, scratch: &mut String) -> Result<(), ArrowError> {
        match self {
            Column::Null => {}
            Column::Text(value) => push_field(out, value(i)),
            Column::Int64(a) => out.extend_from_slice(itoa::Buffer::new().format(a.value(i)).as_bytes()),
            Column::UInt64(a) => out.extend_from_slice(itoa::Buffer::new().format(a.value(i)).as_bytes()),
            Column::Decimal128 { array, scale } => push_decimal(out, array.value(i), *scale),
            Column::Decimal256 { array, precision, scale } => {
                let text = Decimal256Type::format_decimal(array.value(i), *precision, *scale);
                out.extend_from_slice(text.as_bytes());
            }
            Column::Formatted(formatter) => {
                scratch.clear();
                formatter.value(i).write(scratch)?;
                push_field(out, scratch.as_bytes());
            }
        }
        Ok(())
    }
}

/// Rows `start..start + len` of `columns`, one record per row.
fn write_rows(
    file: &str,
    names: &[&str],
    columns: &[ArrayRef],
    start: usize,
    len: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let writers = columns
        .iter()
        .zip(names)
        .map(|(array, name)| Column::new(array).map_err(|e| unusable(file, Some(name), e.to_string())))
        .collect::<Result<Vec<Column<'_>>, Error>>()?;
    out.reserve(len * (columns.len() * 12 + 1));
    let mut scratch = String::new();
    for i in start..start + len {
        let record_start = out.len();
        for (c, (writer, array)) in writers.iter().zip(columns).enumerate() {
            if c > 0 {
                out.push(b',');
            }
            if array.is_null(i) {
                continue;
            }
            writer.write(i, out, &mut scratch).map_err(|e| unusable(file, Some(names[c]), e.to_string()))?;
        }
        // A record of one empty field would read as a blank line, which is skipped.
        if out.len() == record_start && !columns.is_empty() {
            out.extend_from_slice(b"\"\"");
        }
        out.push(b'\n');
    }
    Ok(())
}

/// Appends a field, quoted only where needed (as RFC 4180 and the core's own files do).
fn push_field(out: &mut Vec<u8>, value: &[u8]) {
    if !value.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    for &b in value {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Appends `value / 10^scale` with exactly `scale` decimals (a negative scale appends zeros).
fn push_decimal(out: &mut Vec<u8>, value: i128, scale: i8) {
    if value < 0 {
        out.push(b'-');
    }
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(value.unsigned_abs()).as_bytes();
    let scale = i32::from(scale);
    if scale <= 0 {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', scale.unsigned_abs() as usize));
        return;
    }
    let scale = scale.unsigned_abs() as usize;
    if digits.len() <= scale {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    } else {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int8Type;
    use arrow_array::{
        Date32Array, Decimal128Array, DictionaryArray, Float64Array, Int32Array, StringArray,
        TimestampMicrosecondArray, TimestampSecondArray,
    };

    fn csv(batch: RecordBatch, threads: usize) -> Result<String, Error> {
        let schema = batch.schema();
        let reader = arrow_array::RecordBatchIterator::new(vec![Ok(batch)], schema);
        from_arrow("debits.csv", Box::new(reader), threads, || Ok(())).map(|b| String::from_utf8(b).unwrap())
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn values_are_written_as_their_exact_text() {
        let amount = Decimal128Array::from(vec![Some(5_000_000), Some(5), None, Some(-150)])
            .with_precision_and_scale(20, 2)
            .unwrap();
        let text = StringArray::from(vec![Some("T1"), Some("a,b"), None, Some("say \"hi\"")]);
        let mcc: DictionaryArray<Int8Type> = vec!["5411", "5411", "0742", "5499"].into_iter().collect();
        let atc = Int32Array::from(vec![Some(42), None, Some(0), Some(65535)]);
        let day = Date32Array::from(vec![19205, 19205, 0, 19235]);
        let got = csv(
            batch(vec![
                ("txn_id", Arc::new(text)),
                ("amount", Arc::new(amount)),
                ("mcc", Arc::new(mcc)),
                ("atc", Arc::new(atc)),
                ("valid_from", Arc::new(day)),
            ]),
            1,
        )
        .unwrap();
        assert_eq!(
            got,
            "txn_id,amount,mcc,atc,valid_from\n\
             T1,50000.00,5411,42,2022-08-01\n\
             \"a,b\",0.05,5411,,2022-08-01\n\
             ,,0742,0,1970-01-01\n\
             \"say \"\"hi\"\"\",-1.50,5499,65535,2022-08-31\n"
        );
    }

    #[test]
    fn timestamps_keep_their_zone_or_read_as_naive() {
        let moment = 1_659_755_700; // 2022-08-06T03:15:00Z
        let zoned = TimestampSecondArray::from(vec![moment]).with_timezone("+07:00");
        let utc = TimestampMicrosecondArray::from(vec![moment * 1_000_000 + 500_000]).with_timezone("UTC");
        let naive = TimestampSecondArray::from(vec![moment]);
        let got = csv(batch(vec![("a", Arc::new(zoned)), ("b", Arc::new(utc)), ("c", Arc::new(naive))]), 1).unwrap();
        assert_eq!(got, "a,b,c\n2022-08-06T10:15:00+07:00,2022-08-06T03:15:00.500+00:00,2022-08-06 03:15:00\n");
    }

    #[test]
    fn floats_are_refused_with_the_column_named() {
        let err = csv(batch(vec![("amount", Arc::new(Float64Array::from(vec![1.5])))]), 1).unwrap_err();
        assert_eq!(err.code(), "file");
        assert_eq!(err.location().unwrap().column.as_deref(), Some("amount"));
    }

    #[test]
    fn a_lone_empty_value_is_not_a_blank_line() {
        let got = csv(batch(vec![("x", Arc::new(StringArray::from(vec![Some(""), None, Some("v")])))]), 1).unwrap();
        assert_eq!(got, "x\n\"\"\n\"\"\nv\n");
    }

    #[test]
    fn threads_do_not_change_the_text() {
        let n = 100_000;
        let ids = StringArray::from_iter_values((0..n).map(|i| format!("T{i}")));
        let amounts =
            Decimal128Array::from_iter_values((0..n).map(i128::from)).with_precision_and_scale(38, 2).unwrap();
        let make = || batch(vec![("txn_id", Arc::new(ids.clone())), ("amount", Arc::new(amounts.clone()))]);
        let one = csv(make(), 1).unwrap();
        assert_eq!(one, csv(make(), 4).unwrap());
        assert_eq!(one.lines().count(), n as usize + 1);
        assert!(one.ends_with("T99999,999.99\n"));
    }

    #[test]
    fn decimals_of_any_scale() {
        let mut out = Vec::new();
        for (value, scale) in [(0, 2), (7, 0), (123, 3), (1230, 3), (-5, 1), (42, -2), (i128::MAX, 18)] {
            push_decimal(&mut out, value, scale);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0.00 7 0.123 1.230 -0.5 4200 170141183460469231731.687303715884105727 "
        );
    }
}
