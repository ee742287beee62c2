//! Sessions and their end: back-channel logout delivery.

mod backchannel_delivery;
