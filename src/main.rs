fn main() {
    println!("callboard");
}
